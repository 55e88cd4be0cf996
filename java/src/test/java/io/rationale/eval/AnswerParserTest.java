package io.rationale.eval;

import io.rationale.dataset.Words;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class AnswerParserTest {
    // words: 0 After 1 graduating 2 from 3 medical 4 school, 5 he 6 embarked 7 on 8 a 9 surgical 10 pathway: 11 Surgery
    //        12 and 13 surgery. 14 he’s 15 part-time
    static final List<String> WORDS = Words.texts(Words.split(
            "After graduating from medical school, he embarked on a surgical pathway: Surgery and surgery. he’s part-time"));

    @Test
    void caseAndPunctuationInsensitiveInMentionOrder() {
        AnswerParser.Parsed p = AnswerParser.parse("Surgical, \"MEDICAL\" pathway.", WORDS);
        assertArrayEquals(new int[]{9, 3, 10}, p.ranking());
        assertEquals(List.of(), p.unparsed());
        assertEquals(3, p.matched());
        assertFalse(p.nothingParsed());
    }

    @Test
    void everyOccurrenceOfAMatchedWordJoins() {
        // "surgery" matches "Surgery" (11) and "surgery." (13)
        assertArrayEquals(new int[]{11, 13}, AnswerParser.parse("surgery", WORDS).ranking());
    }

    @Test
    void duplicatesCountOnceAndAreReported() {
        AnswerParser.Parsed p = AnswerParser.parse("medical, Medical; medical.", WORDS);
        assertArrayEquals(new int[]{3}, p.ranking());
        assertEquals(1, p.matched());
        assertEquals(2, p.duplicates());
    }

    @Test
    void unmatchedWordsAreReportedNotDropped() {
        AnswerParser.Parsed p = AnswerParser.parse("1. medical\n2. Doctor\n3) scalpel!\n- school", WORDS);
        assertArrayEquals(new int[]{3, 4}, p.ranking());
        assertEquals(List.of("Doctor", "scalpel"), p.unparsed());   // list markers and the dash are separators
    }

    @Test
    void nothingParseable() {
        AnswerParser.Parsed p = AnswerParser.parse("Xyz qwerty, zzz", WORDS);
        assertTrue(p.nothingParsed());
        assertEquals(List.of("Xyz", "qwerty", "zzz"), p.unparsed());
        assertTrue(AnswerParser.parse("", WORDS).nothingParsed());
        assertTrue(AnswerParser.parse("  , ; ...", WORDS).unparsed().isEmpty());
    }

    @Test
    void curlyQuotesHyphensAndInnerPunctuation() {
        assertArrayEquals(new int[]{14}, AnswerParser.parse("he's", WORDS).ranking());
        assertArrayEquals(new int[]{15}, AnswerParser.parse("Part-Time", WORDS).ranking());
        // "medical/school" matches both parts; "medical/xray" does not match as a whole
        assertArrayEquals(new int[]{3, 4}, AnswerParser.parse("medical/school", WORDS).ranking());
        AnswerParser.Parsed p = AnswerParser.parse("medical/xray", WORDS);
        assertTrue(p.nothingParsed());
        assertEquals(List.of("medical/xray"), p.unparsed());
    }
}
