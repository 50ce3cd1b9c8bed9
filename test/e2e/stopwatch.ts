/**
 * The seconds each step of a real-engine test took, printed when it ends: the README's figures
 * come from these lines.
 */
export function stopwatch(title: string) {
    const startedAt = Date.now();
    /** Seconds by step; a test may record other figures here too (a count, a longest outage). */
    const timings: Record<string, number> = {};
    return {
        timings,
        /** Runs `action`, recording how long it took under `what`, even when it fails. */
        async timed<T>(what: string, action: () => T | Promise<T>): Promise<T> {
            const started = Date.now();
            try {
                return await action();
            } finally {
                timings[what] = (Date.now() - started) / 1000;
            }
        },
        /** Prints every figure, with the whole run's time. */
        report(): void {
            timings["whole run"] = (Date.now() - startedAt) / 1000;
            console.log(`${title} (s): ${JSON.stringify(timings, null, 2)}`);
        },
    };
}
