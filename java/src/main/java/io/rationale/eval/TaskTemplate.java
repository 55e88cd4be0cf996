package io.rationale.eval;

import io.rationale.dataset.Example;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The wording of one classification task: the instruction, the title of each text field, the answer line, and the
 * candidate label words. {@link PromptBuilder} lays these out; {@link #forDataset} picks the template of a dataset
 * kind.
 *
 * <h2>Templates ({@code {words}} = the chosen label words, "a, b or c")</h2>
 * <ul>
 *   <li><b>nli</b> (kinds {@code esnli}, {@code esnli-plain}, and {@code eraser}/{@code jsonl} whose fields are
 *       {@code premise}, {@code hypothesis}): "Read the premise and the hypothesis. Does the premise entail the
 *       hypothesis, contradict it, or neither? Answer with one word: {words}." Fields "Premise:", "Hypothesis:";
 *       answer line "Answer:". Words: entailment → [entailment, yes], neutral → [neutral, maybe],
 *       contradiction → [contradiction, no].</li>
 *   <li><b>fever</b> (kind {@code fever}, and {@code eraser}/{@code jsonl} with the labels SUPPORTS/REFUTES):
 *       "Read the claim and the evidence. Is the claim true or false according to the evidence? Answer with one
 *       word: {words}." Fields "Claim:" ({@code claim}, or ERASER's {@code query}), "Evidence:"; answer line
 *       "Answer:". Words: SUPPORTS → [true, supports, yes], REFUTES → [false, refutes, no].</li>
 *   <li><b>medicalbios</b> (kinds {@code medicalbios}, {@code medicalbios-contrastive}): "Read the short bio.
 *       What is the occupation of the person it describes? Answer with one word: {words}." Field "Bio:", answer
 *       line "Occupation:". Words: each occupation itself, with physician → [physician, doctor, medic],
 *       psychologist → [psychologist, counselor, therapist] as alternatives (stories260K's 512-token vocabulary
 *       starts both with {@code ▁p}; counselor before therapist, whose first token there is the word {@code ▁the}).</li>
 *   <li><b>generic</b> (any other {@code jsonl}/{@code eraser}): "Read the input and classify it. Answer with one
 *       word: {words}." Fields titled by their name with the first letter upper-cased ({@code text} → "Text:");
 *       answer line "Answer:". Words: the label as written, then lower-cased.</li>
 * </ul>
 * Prompting-based rationales ask (guided) "List the {k} words of the {input} that were most important for this
 * answer, separated by commas." with the answer line "Words:", or (unbound) "Explain which words of the {input}
 * were most important for this answer." with "Explanation:"; {input} is the template's input noun ("bio",
 * "premise and hypothesis", "claim and evidence", "input").
 *
 * @param name                 template name (nli, fever, medicalbios, generic)
 * @param instruction          first paragraph of the prompt, with {@code {words}} for the label words
 * @param fieldTitles          field name → its title in the prompt (a missing name: {@link #title})
 * @param answerTitle          the title of the answer line ("Answer", "Occupation")
 * @param inputNoun            what the prompting questions call the input
 * @param labelWordCandidates  label → candidate words in order of preference (see {@link LabelWords#resolve})
 */
public record TaskTemplate(String name, String instruction, Map<String, String> fieldTitles, String answerTitle,
                           String inputNoun, Map<String, List<String>> labelWordCandidates) {
    public TaskTemplate {
        fieldTitles = Map.copyOf(fieldTitles);
        Map<String, List<String>> c = new LinkedHashMap<>();
        labelWordCandidates.forEach((k, v) -> c.put(k, List.copyOf(v)));
        labelWordCandidates = java.util.Collections.unmodifiableMap(c);
        if (!instruction.contains("{words}")) throw new IllegalArgumentException("instruction must contain {words}");
    }

    public static final List<String> NLI_LABELS = List.of("entailment", "neutral", "contradiction");
    public static final List<String> FEVER_LABELS = List.of("SUPPORTS", "REFUTES");

    /**
     * The template of a dataset kind (see the class comment); {@code fields} are the example's field names and
     * {@code labels} the label set, used for {@code eraser}/{@code jsonl}.
     */
    public static TaskTemplate forDataset(String kind, List<String> labels, List<String> fields) {
        Set<String> fieldSet = new LinkedHashSet<>(fields);
        return switch (kind) {
            case "esnli", "esnli-plain" -> nli(labels);
            case "fever" -> fever(labels);
            case "medicalbios", "medicalbios-contrastive" -> medicalBios(labels);
            default -> {
                if (fieldSet.equals(Set.of("premise", "hypothesis")) && NLI_LABELS.containsAll(labels)) yield nli(labels);
                if (Set.copyOf(labels).equals(Set.copyOf(FEVER_LABELS))) yield fever(labels);
                yield generic(labels);
            }
        };
    }

    /** The template of an example's dataset kind. */
    public static TaskTemplate forExample(String kind, Example e) {
        return forDataset(kind, e.labels(), e.fields().stream().map(f -> f.name()).toList());
    }

    public static TaskTemplate nli(List<String> labels) {
        Map<String, List<String>> w = new LinkedHashMap<>();
        for (String l : labels) {
            w.put(l, switch (l) {
                case "entailment" -> List.of("entailment", "yes");
                case "neutral" -> List.of("neutral", "maybe");
                case "contradiction" -> List.of("contradiction", "no");
                default -> defaultWords(l);
            });
        }
        return new TaskTemplate("nli",
                "Read the premise and the hypothesis. Does the premise entail the hypothesis, contradict it, or neither? "
                        + "Answer with one word: {words}.",
                Map.of("premise", "Premise", "hypothesis", "Hypothesis"), "Answer", "premise and hypothesis", w);
    }

    public static TaskTemplate fever(List<String> labels) {
        Map<String, List<String>> w = new LinkedHashMap<>();
        for (String l : labels) {
            w.put(l, switch (l) {
                case "SUPPORTS" -> List.of("true", "supports", "yes");
                case "REFUTES" -> List.of("false", "refutes", "no");
                default -> defaultWords(l);
            });
        }
        return new TaskTemplate("fever",
                "Read the claim and the evidence. Is the claim true or false according to the evidence? "
                        + "Answer with one word: {words}.",
                Map.of("claim", "Claim", "query", "Claim", "evidence", "Evidence"), "Answer", "claim and evidence", w);
    }

    public static TaskTemplate medicalBios(List<String> labels) {
        Map<String, List<String>> w = new LinkedHashMap<>();
        for (String l : labels) {
            w.put(l, switch (l) {
                case "physician" -> List.of("physician", "doctor", "medic");
                case "psychologist" -> List.of("psychologist", "counselor", "therapist");
                default -> defaultWords(l);
            });
        }
        return new TaskTemplate("medicalbios",
                "Read the short bio. What is the occupation of the person it describes? Answer with one word: {words}.",
                Map.of("bio", "Bio"), "Occupation", "bio", w);
    }

    public static TaskTemplate generic(List<String> labels) {
        Map<String, List<String>> w = new LinkedHashMap<>();
        for (String l : labels) w.put(l, defaultWords(l));
        return new TaskTemplate("generic", "Read the input and classify it. Answer with one word: {words}.",
                Map.of(), "Answer", "input", w);
    }

    private static List<String> defaultWords(String label) {
        List<String> out = new ArrayList<>(List.of(label));
        String lower = label.toLowerCase(Locale.ROOT);
        if (!lower.equals(label)) out.add(lower);
        return out;
    }

    /** The title of a field in the prompt. */
    public String title(String field) {
        String t = fieldTitles.get(field);
        if (t != null) return t;
        if (field.isEmpty()) return field;
        return field.substring(0, 1).toUpperCase(Locale.ROOT) + field.substring(1);
    }

    /** The instruction with the label words filled in: "a, b or c". */
    public String instruction(List<String> words) {
        return instruction.replace("{words}", joinOr(words));
    }

    /** "a", "a or b", "a, b or c". */
    static String joinOr(List<String> words) {
        if (words.size() == 1) return words.get(0);
        return String.join(", ", words.subList(0, words.size() - 1)) + " or " + words.get(words.size() - 1);
    }

    /** The guided prompting question for k words. */
    public String guidedQuestion(int k) {
        return "List the " + k + (k == 1 ? " word" : " words") + " of the " + inputNoun
                + " that were most important for this answer, separated by commas.";
    }

    /** The unbound prompting question. */
    public String unboundQuestion() {
        return "Explain which words of the " + inputNoun + " were most important for this answer.";
    }

    /** Answer line title of the guided question. */
    public static final String GUIDED_TITLE = "Words";
    /** Answer line title of the unbound question. */
    public static final String UNBOUND_TITLE = "Explanation";
}
