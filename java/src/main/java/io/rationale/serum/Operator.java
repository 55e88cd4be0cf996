package io.rationale.serum;

import io.rationale.engine.AttentionIntervention;

import java.util.Locale;

/**
 * Where the steering weights enter attention ({@link AttentionIntervention.Site}): {@code post} adds α·R̂ to the
 * softmax probabilities of the span keys without renormalising (the authors' released operator; the default),
 * {@code post-renorm} adds it and divides each row by its new sum, {@code pre} adds it to the scaled scores before
 * the softmax (named in the authors' scripts, not implemented there).
 */
public enum Operator {
    POST("post", AttentionIntervention.Site.POST_SOFTMAX),
    POST_RENORM("post-renorm", AttentionIntervention.Site.POST_SOFTMAX_RENORM),
    PRE("pre", AttentionIntervention.Site.PRE_SOFTMAX);

    private final String cliName;
    private final AttentionIntervention.Site site;

    Operator(String cliName, AttentionIntervention.Site site) {
        this.cliName = cliName;
        this.site = site;
    }

    public String cliName() { return cliName; }

    public AttentionIntervention.Site site() { return site; }

    public static Operator parse(String s) {
        String n = s == null ? "" : s.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        for (Operator o : values()) if (o.cliName.equals(n)) return o;
        throw new IllegalArgumentException("unknown steering operator '" + s + "' (valid: post, post-renorm, pre)");
    }
}
