import type * as pulumi from "@pulumi/pulumi";
import type { RemovalAllowance } from "../components/users/removalGuard";
import { USER_ID_PATTERN } from "../components/users/users";
import { InvalidInputError, parseJsonText, problemCollector } from "../components/validation";

/**
 * The per-run keys that steer the user lifecycle, set for one `pulumi up` and removed after:
 *
 * - `pug:allowRemovals`: removals the guard lets through beyond its budget: ids, comma-separated
 *   (`acme,globex`) or as a list, or a number (up to that many removals);
 * - `pug:restoreUsers`: users added back after a removal, whose database still exists in MySQL:
 *   it is adopted (imported into the stack) instead of created, which would fail.
 */
export interface UserLifecycleSettings {
    allowRemovals?: RemovalAllowance;
    restoreUsers: string[];
}

/**
 * Ids as `pulumi config set` gives them: `acme,globex`, or a JSON list (a YAML list in the stack
 * file). `numberAllowed` also accepts a whole number.
 */
function parseIds(key: string, raw: string, numberAllowed: boolean): { ids: string[]; count?: number } {
    const text = raw.trim();
    if (numberAllowed && /^\d+$/.test(text)) {
        const count = Number(text);
        if (count < 1) throw new InvalidInputError([`${key}: must name users or be a number of removals >= 1`]);
        return { ids: [], count };
    }
    let items: unknown[];
    if (text.startsWith("[")) {
        try {
            items = parseJsonText(text) as unknown[];
        } catch {
            throw new InvalidInputError([`${key}: is neither a list of ids nor comma-separated ids`]);
        }
    } else {
        items = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
    }
    const form = numberAllowed ? "ids separated by commas, or a number of removals" : "ids separated by commas";
    const problems = items
        .filter((id) => typeof id !== "string" || !USER_ID_PATTERN.test(id))
        .map((id) => `${key}: ${JSON.stringify(id)} is not a user id (give ${form})`);
    if (problems.length) throw new InvalidInputError(problems);
    if (items.length === 0) throw new InvalidInputError([`${key}: is empty (give ${form}, or remove the key)`]);
    return { ids: items as string[] };
}

/** Reads `pug:allowRemovals` and `pug:restoreUsers`; every problem of both in one error. */
export function readUserLifecycleSettings(config: pulumi.Config): UserLifecycleSettings {
    const { attempt, throwIfAny } = problemCollector();
    const read = <T>(k: string, parse: (key: string, raw: string) => T): T | undefined => {
        const raw = config.get(k);
        return raw === undefined ? undefined : attempt(() => parse(`${config.name}:${k}`, raw));
    };
    const allowRemovals = read("allowRemovals", (key, raw) => parseIds(key, raw, true));
    const restoreUsers = read("restoreUsers", (key, raw) => parseIds(key, raw, false).ids) ?? [];
    throwIfAny();
    return { allowRemovals, restoreUsers };
}
