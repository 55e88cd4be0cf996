package io.rationale.engine;

/**
 * What a forward pass returns and keeps besides filling the caches.
 *
 * @param logits       which positions get logits
 * @param record       null, or a record of the same backend ({@link Backend#newRecord}) to fill for a backward pass
 * @param intervention null, or a bias on attention ({@link AttentionIntervention}); not with a record (the
 *                     backward pass does not model it)
 */
public record ForwardOptions(LogitsMode logits, ForwardRecord record, AttentionIntervention intervention) {
    public ForwardOptions {
        if (logits == null) throw new IllegalArgumentException("no logits mode");
        if (record != null && intervention != null)
            throw new IllegalArgumentException("an attention intervention cannot be recorded for a backward pass");
    }

    public static ForwardOptions of(LogitsMode logits) { return new ForwardOptions(logits, null, null); }

    public ForwardOptions withRecord(ForwardRecord r) { return new ForwardOptions(logits, r, intervention); }

    public ForwardOptions withIntervention(AttentionIntervention iv) { return new ForwardOptions(logits, record, iv); }
}
