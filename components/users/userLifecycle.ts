/**
 * Checks `restoreIds` against the user list and the last update's ids. Problems: an id the list
 * lacks (a typo, or a user still removed). Warnings: an id the last update already had, for which
 * the import is a no-op (the engine matches the database it already manages) and the key can go.
 */
export function checkRestores(
    restoreIds: readonly string[],
    userIds: readonly string[],
    previousIds: readonly string[] = [],
): { problems: string[]; warnings: string[] } {
    const known = new Set(userIds);
    const managed = new Set(previousIds);
    return {
        problems: restoreIds.filter((id) => !known.has(id)).map((id) => `"${id}" is not in the user list: add the user back to the source first`),
        warnings: restoreIds.filter((id) => managed.has(id)).map((id) => `"${id}" is already managed by this stack: its restore is done, remove it from the key`),
    };
}
