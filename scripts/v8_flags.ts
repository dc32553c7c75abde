/**
 * The V8 flags every engine process runs with: deno.json's engine tasks (a test keeps them
 * equal to this), the compiled binary and the backfill benchmark. V8's defaults let the heap
 * grow to several times what survives a collection, and a pipeline's garbage (rows read, rows
 * encoded) survives long enough to reach the old generation: on the benchmark plant the heap
 * reached 200 MB around a live 30–50 MB. A young generation of 2 × 2 MB and an old generation
 * grown by 20 % past what survives keep it near the live size, at the same throughput (4 MB
 * semi-spaces: 4–5 MB more at the peak, for up to ~7 % less engine CPU). Both are
 * soft: neither is a cap, so a plant with more tags than expected is slower to collect, never
 * out of memory.
 */
export const ENGINE_V8_FLAGS = ["--heap-growing-percent=20", "--max-semi-space-size=2"];

/** The flags as `deno run` and `deno compile` take them. */
export const v8FlagsArg = `--v8-flags=${ENGINE_V8_FLAGS.join(",")}`;
