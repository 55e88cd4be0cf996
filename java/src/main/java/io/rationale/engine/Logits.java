package io.rationale.engine;

/**
 * Logits returned by a forward pass: for each sequence, one row of {@code vocabSize} floats per returned position
 * (one row with {@link LogitsMode#LAST}, one per new token with {@link LogitsMode#ALL}), all in one packed array.
 */
public final class Logits {
    private final int vocabSize;
    private final float[] data;
    private final int[] firstRow;   // per sequence, plus one past the end

    /**
     * {@code data} holds {@code firstRow[numSequences]} rows; sequence s owns rows [firstRow[s], firstRow[s+1]).
     *
     * @throws IllegalStateException when a sequence's last row holds a NaN: a weight or an activation of the model is
     *                               not finite, and every number computed from the pass would be meaningless
     */
    public Logits(int vocabSize, float[] data, int[] firstRow) {
        this.vocabSize = vocabSize;
        this.data = data;
        this.firstRow = firstRow;
        for (int s = 0; s + 1 < firstRow.length; s++) {
            if (firstRow[s + 1] == firstRow[s]) continue;
            int o = (firstRow[s + 1] - 1) * vocabSize;
            for (int t = 0; t < vocabSize; t++)
                if (Float.isNaN(data[o + t]))
                    throw new IllegalStateException("the model's logits are NaN (token " + t + " at the last position of sequence " + s
                            + "): a weight or an activation is not finite; check the checkpoint's values");
        }
    }

    public int vocabSize() { return vocabSize; }

    public int numSequences() { return firstRow.length - 1; }

    /** Rows returned for sequence s. */
    public int rows(int seq) { return firstRow[seq + 1] - firstRow[seq]; }

    /** Logit of {@code token} in row {@code row} of sequence {@code seq}. */
    public float get(int seq, int row, int token) { return data[offset(seq, row) + token]; }

    /** A copy of one row. */
    public float[] row(int seq, int row) {
        int o = offset(seq, row);
        return java.util.Arrays.copyOfRange(data, o, o + vocabSize);
    }

    /** A copy of the last row of a sequence (its last token's logits). */
    public float[] last(int seq) { return row(seq, rows(seq) - 1); }

    /** The token with the highest logit in one row (the lowest id on ties). */
    public int argmax(int seq, int row) {
        int o = offset(seq, row), best = 0;
        for (int t = 1; t < vocabSize; t++) if (data[o + t] > data[o + best]) best = t;
        return best;
    }

    /** The packed rows (not a copy). */
    public float[] data() { return data; }

    /** Index in {@link #data()} where row {@code row} of sequence {@code seq} starts. */
    public int offset(int seq, int row) {
        if (row < 0 || row >= rows(seq)) throw new IndexOutOfBoundsException("row " + row + " of " + rows(seq));
        return (firstRow[seq] + row) * vocabSize;
    }
}
