/**
 * The users the benchmarks declare: ids only, as a platform team lists them (`user-00000`, ...),
 * every other setting from the stack's defaults but `replicas` when given. A longer list extends
 * a shorter one, so a stack grows by its tail.
 */
export function benchUsers(count: number, replicas?: number, from = 0): { id: string; replicas?: number }[] {
    return Array.from({ length: count }, (_, i) => ({ id: `user-${String(from + i).padStart(5, "0")}`, ...(replicas === undefined ? {} : { replicas }) }));
}
