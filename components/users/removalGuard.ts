/**
 * The guard against mass removal. A user list that suddenly lacks many users (an API answering
 * half a page, a file truncated by a bad merge, an empty answer from a broken endpoint), or marks
 * them inactive (a broken source answering `active: false` for everyone), must not tear down
 * customers' Grafanas. The stack exports `tenants` and `activeTenants`; each run compares the new
 * list with what the last update exported and stops, before anything is registered, when too many
 * Grafanas would go. Pure functions: the stack program reads the previous ids and the allowance
 * and calls them.
 */

/** What the operator allows for one run (`pug:allowRemovals`). */
export interface RemovalAllowance {
    /** These ids may be removed, whatever the budget. */
    ids: string[];
    /** Up to this many removals are allowed. @default none beyond the budget */
    count?: number;
}

export interface RemovalCheck {
    /** The ids the last update exported; undefined on a first deployment (nothing to protect). */
    previous: readonly string[] | undefined;
    /** Of `previous`, the users whose Grafana ran after the last update. @default all of `previous` */
    previousActive?: readonly string[];
    /** The ids of the new list. */
    next: readonly string[];
    /** Of `next`, the users marked inactive. @default none */
    nextInactive?: readonly string[];
    /** Names the new list in messages ("pug:users", "users.yaml", an URL). */
    source: string;
    /** @default none */
    allowance?: RemovalAllowance;
    /** The config key of the allowance, quoted in the instructions. @default "pug:allowRemovals" */
    allowanceKey?: string;
}

export interface RemovalVerdict {
    /** Ids of the last update missing from the new list, in the last update's order. */
    removed: string[];
    /** Ids active at the last update and inactive in the new list: their Grafana goes too. */
    deactivated: string[];
    /** Removals and deactivations a run may make without an allowance: max(2, 10% of the previous users). */
    budget: number;
    /** Why the run must stop (with who would be removed and how to allow it), or undefined. */
    refusal?: string;
    /** Things the operator should know even when the run goes on. */
    warnings: string[];
}

/** Removals a run may make unconfirmed: a few, or a tenth of a large platform. */
export function defaultRemovalBudget(previousCount: number): number {
    return Math.max(2, Math.floor(previousCount / 10));
}

/** At most this many ids are spelled out in a message. */
const IDS_LISTED = 50;

function listIds(ids: readonly string[]): string {
    const shown = ids.slice(0, IDS_LISTED).join(", ");
    return ids.length > IDS_LISTED ? `${shown}, and ${ids.length - IDS_LISTED} more` : shown;
}

/** Decides whether the new list may replace the previous one. */
export function checkRemovals(check: RemovalCheck): RemovalVerdict {
    const key = check.allowanceKey ?? "pug:allowRemovals";
    const allowance = check.allowance;
    const warnings: string[] = [];
    if (check.previous === undefined) {
        if (allowance) warnings.push(`${key} is set, but the stack has no previous update: there is nothing to remove; remove the key`);
        return { removed: [], deactivated: [], budget: 0, warnings };
    }
    const previous = [...new Set(check.previous)];
    const next = new Set(check.next);
    const nextInactive = new Set(check.nextInactive ?? []);
    const wasActive = check.previousActive && new Set(check.previousActive);
    const previousActive = wasActive ? previous.filter((id) => wasActive.has(id)) : previous;
    const removed = previous.filter((id) => !next.has(id));
    const deactivated = previousActive.filter((id) => next.has(id) && nextInactive.has(id));
    const gone = [...removed, ...deactivated];
    const budget = defaultRemovalBudget(previous.length);

    const named = new Set(allowance?.ids ?? []);
    const unnamed = gone.filter((id) => !named.has(id));
    const extra = allowance?.count ?? 0;
    // An empty answer, or one marking everyone inactive, is far more often a broken source than a
    // platform losing every customer: it needs an explicit allowance, whatever the budget says.
    const noneActive = check.next.every((id) => nextInactive.has(id));
    const emptied = previous.length > 0 && noneActive && (check.next.length === 0 || previousActive.length > 0);
    const allowed = emptied ? unnamed.length <= extra : unnamed.length <= Math.max(budget, extra);

    if (!allowed) return { removed, deactivated, budget, warnings, refusal: refusal(check, key, { previous: previous.length, previousActive: previousActive.length }, removed, deactivated, budget, emptied) };

    const stale = [...named].filter((id) => !gone.includes(id));
    if (stale.length) warnings.push(`${key} names ${listIds(stale)}, which this update does not remove`);
    if (allowance) {
        warnings.push(`${key} is set: remove it after this update (\`pulumi config rm ${key}\`), or it goes on allowing removals in later runs`);
    }
    for (const [verb, ids] of [["removes", removed], ["deactivates", deactivated]] as const) {
        if (ids.length) warnings.push(`this update ${verb} ${ids.length} user${ids.length === 1 ? "" : "s"} (${listIds(ids)}): their Grafana services are deleted, their databases stay in MySQL`);
    }
    return { removed, deactivated, budget, warnings };
}

function refusal(
    check: RemovalCheck,
    key: string,
    counts: { previous: number; previousActive: number },
    removed: string[],
    deactivated: string[],
    budget: number,
    emptied: boolean,
): string {
    const gone = [...removed, ...deactivated];
    const broken = "far more often a broken source than an intended change, so it is never applied unconfirmed.";
    const what = !emptied
        ? `${check.source} would remove ${removed.length}${deactivated.length ? ` and deactivate ${deactivated.length}` : ""} of the ${counts.previous} users the last update deployed, ` +
          `more than the ${budget} a run may remove or deactivate unconfirmed (max(2, 10% of the previous users)).`
        : check.next.length === 0
          ? `${check.source} returned no users, while the last update deployed ${counts.previous}. An empty list is ${broken}`
          : `${check.source} marks every user inactive, while the last update ran the Grafanas of ${counts.previousActive}. That is ${broken}`;
    const allowance = gone.length <= 10 ? gone.join(",") : String(gone.length);
    return [
        `Refusing to remove users. ${what}`,
        ...(removed.length ? [`Would be removed (${removed.length}): ${listIds(removed)}`] : []),
        ...(deactivated.length ? [`Would be deactivated (${deactivated.length}): ${listIds(deactivated)}`] : []),
        `Their Grafana services would be deleted (their databases stay in MySQL). Nothing was changed.`,
        `If the source is wrong, fix it. If the removal is intended, allow it for one run, then remove the key:`,
        `  pulumi config set ${key} ${allowance}`,
        `  pulumi up`,
        `  pulumi config rm ${key}`,
        `(${key} takes the ids to remove or deactivate, comma-separated, or a number: up to that many.)`,
    ].join("\n");
}

/**
 * Reads the `tenants` output of the last update as the guard needs it: undefined when there is
 * none (a first deployment), otherwise a list of ids, or an error when it is anything else (the
 * guard must not silently pass on a value it cannot read).
 */
export function previousTenantIds(output: unknown, name = "tenants"): string[] | undefined {
    if (output === undefined || output === null) return undefined;
    if (!Array.isArray(output) || output.some((id) => typeof id !== "string")) {
        throw new Error(`the last update's \`${name}\` output is not a list of user ids; the removal guard cannot tell who would be removed`);
    }
    return output as string[];
}

/**
 * The users whose Grafana ran after the last update: its `activeTenants` output, or, for an update
 * made before that output existed, the ids its `urls` output has a URL for (active users only).
 * Undefined when neither is there: the guard then takes every previous user as active.
 */
export function previousActiveIds(activeTenants: unknown, urls: unknown): string[] | undefined {
    const active = previousTenantIds(activeTenants, "activeTenants");
    if (active !== undefined) return active;
    return urls && typeof urls === "object" && !Array.isArray(urls) ? Object.keys(urls) : undefined;
}
