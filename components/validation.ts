import { closest, distance } from "fastest-levenshtein";
import { visit } from "jsonc-parser";
import { z } from "zod";

/**
 * One line per problem, each naming where it is: `<source>: <entry>: <field> <message>`.
 * `source` is where the data came from (a config key, a file, an URL), `entry` which record
 * (omitted for a single object).
 * @internal
 */
export function describeIssues(source: string, entry: string | undefined, error: z.ZodError): string[] {
    return error.issues.map((issue) => {
        // a problem of the whole value (its type, a rule across fields) names no field
        const field = issue.path.length ? `${issue.path.join(".")}: ` : "";
        return `${source}: ${entry ? `${entry}: ` : ""}${field}${issue.message}`;
    });
}

/** A schema of a whole number of at least `min`. @internal */
export const wholeAtLeast = (min: number) => z.number().int(`must be a whole number >= ${min}`).min(min, `must be a whole number >= ${min}`);
/** A schema of a TCP port number. @internal */
export const portNumber = wholeAtLeast(1).max(65535, "must be a port number (1-65535)");
/** A schema of `host:port`. @internal */
export const hostPort = z.string().regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?:\d{1,5}$/i, "must be host:port");

/** The items that repeat an earlier one's key, with their index: each is an "appears twice". */
export function repeats<T>(items: readonly T[], key: (item: T) => string): Array<{ item: T; index: number }> {
    const seen = new Set<string>();
    return items.flatMap((item, index) => {
        const k = key(item);
        if (seen.has(k)) return [{ item, index }];
        seen.add(k);
        return [];
    });
}

/** An error carrying every problem found in the input, one per line. */
export class InvalidInputError extends Error {
    constructor(public readonly problems: string[]) {
        super(problems.join("\n"));
        this.name = "InvalidInputError";
    }
}

/**
 * Runs reads that may each throw an InvalidInputError and keeps going, so one run reports the
 * problems of every read: `attempt` returns undefined for a failed read, `problems` gathers them
 * (callers may add their own), `throwIfAny` ends with one error listing all.
 */
export function problemCollector() {
    const problems: string[] = [];
    return {
        problems,
        attempt<T>(read: () => T): T | undefined {
            try {
                return read();
            } catch (err) {
                if (!(err instanceof InvalidInputError)) throw err;
                problems.push(...err.problems);
                return undefined;
            }
        },
        throwIfAny(): void {
            if (problems.length) throw new InvalidInputError(problems);
        },
    };
}

/** Parses `value` with `schema`, or throws an InvalidInputError naming the source and each field. @internal */
export function parseOrThrow<S extends z.ZodType>(schema: S, source: string, value: unknown): z.output<S> {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new InvalidInputError(describeIssues(source, undefined, parsed.error));
    return parsed.data;
}

/**
 * The known name closest to `word`, when it is close enough to be a likely typo (a few edits,
 * case ignored); undefined otherwise. Used to turn "unknown field" into "did you mean ...?".
 */
export function nearestName(word: string, known: readonly string[]): string | undefined {
    if (known.length === 0) return undefined;
    const lower = word.toLowerCase();
    const best = closest(lower, known.map((k) => k.toLowerCase()));
    const tolerance = Math.max(2, Math.floor(word.length / 3));
    return distance(lower, best) <= tolerance ? known.find((k) => k.toLowerCase() === best) : undefined;
}

/** "a string", "a list", "null"...: what a value is, for "got ..." in messages (never the value itself). */
export function describeKind(value: unknown): string {
    if (value === null) return "null";
    if (Array.isArray(value)) return "a list";
    if (value === undefined) return "nothing";
    return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * `<field> <message>` for each problem of one record, unknown fields named one by one with the
 * nearest of `knownFields` as a hint (a typo must not be silently dropped), each field under
 * `under` when given (`proxy.jwt.endpoint ...`). The caller puts the source and entry in front.
 * @internal
 */
export function describeFieldIssues(error: z.ZodError, knownFields: readonly string[], under?: string): string[] {
    return error.issues.flatMap((issue) => {
        const field = [...(under === undefined ? [] : [under]), ...issue.path.map(String)].join(".");
        const subject = (message: string) => (field ? `${field} ${message}` : message);
        switch (issue.code) {
            case "unrecognized_keys":
                return issue.keys.map((key) => {
                    const hint = nearestName(key, knownFields);
                    const name = field ? `${field}.${key}` : key;
                    return `${name} is not a known field (${hint ? `did you mean "${hint}"?` : `known fields: ${knownFields.join(", ")}`})`;
                });
            case "invalid_key":
                return issue.issues.map((inner) => subject(inner.message));
            default:
                return [subject(issue.message)];
        }
    });
}

/**
 * Each problem of `value` against `schema`, worded by describeFieldIssues with the schema's own
 * fields as the hints, under `under` when given; none when it passes.
 * @internal
 */
export function schemaProblems(schema: z.ZodType, value: unknown, under?: string): string[] {
    const parsed = schema.safeParse(value);
    return parsed.success ? [] : describeFieldIssues(parsed.error, schema instanceof z.ZodObject ? Object.keys(schema.shape) : [], under);
}

/** A key an object of a JSON text gives twice; line and column (from 1) of the second. */
export class DuplicateKeyError extends Error {
    constructor(public readonly key: string, public readonly line: number, public readonly column: number) {
        super(`line ${line}, column ${column}: ${JSON.stringify(key)} is given twice in one object (which one counts would be left to the parser)`);
        this.name = "DuplicateKeyError";
    }
}

/**
 * Parses a JSON text strictly: JSON.parse's grammar (a SyntaxError otherwise), and no key given
 * twice in one object, where JSON.parse silently keeps the last (a DuplicateKeyError). The keys
 * are checked by jsonc-parser's scanner, which builds no tree: cheap on a 16 MiB list.
 */
export function parseJsonText(text: string): unknown {
    const value: unknown = JSON.parse(text);
    const keysOfOpenObjects: Set<string>[] = [];
    let duplicate: DuplicateKeyError | undefined;
    visit(text, {
        onObjectBegin: () => {
            keysOfOpenObjects.push(new Set());
        },
        onObjectEnd: () => {
            keysOfOpenObjects.pop();
        },
        onObjectProperty: (key, _offset, _length, line, character) => {
            const keys = keysOfOpenObjects[keysOfOpenObjects.length - 1];
            if (keys.has(key)) duplicate ??= new DuplicateKeyError(key, line + 1, character + 1);
            keys.add(key);
        },
    });
    if (duplicate) throw duplicate;
    return value;
}
