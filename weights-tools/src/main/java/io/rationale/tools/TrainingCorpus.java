package io.rationale.tools;

/**
 * The small English text the tiny tokenizer's merges are learned from. Written for this project;
 * changing it changes every generated tokenizer, so treat it as part of the output format.
 */
public final class TrainingCorpus {
    private TrainingCorpus() {
    }

    /** The text. */
    public static final String TEXT = """
            Once upon a time, in a small town by the sea, there lived an old lighthouse keeper named \
            Tom. Every evening he climbed the one hundred and twelve steps of the tower, lit the great \
            lamp, and watched the ships pass in the dark. The people of the town said that Tom had not \
            missed a single night in forty years. "The sea does not rest," he liked to say, "so neither \
            do I." When the wind was strong and the rain was cold, he wrapped himself in a thick wool \
            coat and kept the light burning until the morning came.

            One winter the storms were worse than anyone could remember. The waves rose higher than the \
            harbour wall, and the fishing boats stayed at home for twelve days in a row. On the thirteenth \
            night a young girl knocked at the door of the lighthouse. She was wet and tired, and she said \
            that her father's boat had not come back. Tom gave her a warm drink and a place by the fire. \
            Then he turned the great lamp toward the open sea and waited. Just before dawn a small light \
            answered from the water, and the girl's father brought his boat safely into the harbour.

            Scientists explain that light travels at about 300,000 kilometres per second, but it still \
            takes time to reach us from the stars. When we look at the night sky we see the stars as they \
            were long ago, not as they are today. Some of the light that reaches your eyes tonight left \
            its star before the first towns were built. The same is true of sound on a smaller scale: you \
            see the flash of lightning first and hear the thunder a few seconds later, because sound moves \
            much more slowly than light.

            To bake a simple loaf of bread you need flour, water, salt and a little yeast. Mix 500 grams of \
            flour with 350 grams of warm water, add 10 grams of salt and 7 grams of yeast, and knead the \
            dough for ten minutes until it is smooth. Let it rise in a warm place for an hour, shape it into \
            a loaf, and let it rise again. Bake it in a hot oven for about forty minutes. The bread is ready \
            when the crust is brown and the loaf sounds hollow when you tap the bottom.

            Learning a new language takes patience. At first every word is strange and every sentence is a \
            puzzle. You learn the names of things, then the words for what people do, and then the small \
            words that hold a sentence together. After a while you stop translating in your head and start \
            to think in the new language. It's a slow process, but it's worth it: a new language opens the \
            door to new books, new music, new friends and new ways of seeing the world.

            The children played in the garden all afternoon. They built a house of sticks and leaves, \
            chased the cat around the apple tree, and counted the clouds that drifted over the hills. When \
            the sun went down their mother called them in for dinner, and they ran inside, hungry and happy, \
            with grass in their hair and mud on their shoes.
            """;
}
