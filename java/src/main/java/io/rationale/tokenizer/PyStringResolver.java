package io.rationale.tokenizer;

import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

import java.beans.FeatureDescriptor;
import java.util.Iterator;

/**
 * A Jinjava expression resolver that answers Python string method calls ({@code s.strip()}, {@code s.title()},
 * ...) through {@link PyStrings}; everything else falls through to Jinjava's own resolvers.
 */
final class PyStringResolver extends ELResolver {
    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (!(base instanceof String s) || method == null) return null;
        Object result = PyStrings.call(s, method.toString(), params);
        if (result == PyStrings.NOT_HANDLED) return null;
        context.setPropertyResolved(true);
        return result;
    }

    @Override
    public Object getValue(ELContext context, Object base, Object property) { return null; }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) { return null; }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {}

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) { return true; }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) { return null; }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) { return null; }
}
