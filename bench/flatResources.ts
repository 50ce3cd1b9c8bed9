/**
 * The custom resources a run of the stack program registered (under the mocks: the inputs exactly
 * as the program gave them), as the engine benchmark's flat baseline registers them again (pure,
 * tested in test/bench.test.ts).
 */

export interface FlatResource {
    urn: string;
    type: string;
    /** Unique among the resources of its type: the name, numbered when two share it. */
    name: string;
    inputs: Record<string, unknown>;
    /** For an explicit provider (`pulumi:providers:<package>`): its package. */
    providerPackage?: string;
    /** The URN of the explicit provider the resource uses; undefined for the default one. */
    provider?: string;
}

/** A registered resource, as the mocks record it. */
export interface Registered {
    urn: string;
    type: string;
    name: string;
    custom: boolean;
    inputs: Record<string, unknown>;
    /** The provider reference, `<urn>::<id>`; empty for the default provider. */
    provider?: string;
}

const PROVIDER_TYPE = /^pulumi:providers:(.+)$/;

/**
 * The custom resources in registration order (a provider before its users): components and the
 * StackReference left out, a reference to a provider that was not registered (a default one)
 * dropped, so the engine makes its own.
 */
export function flatResources(registered: Registered[]): FlatResource[] {
    const explicit = new Set(registered.filter((r) => PROVIDER_TYPE.test(r.type)).map((r) => r.urn));
    const taken = new Set<string>();
    const flat: FlatResource[] = [];
    for (const r of registered) {
        if (!r.custom || r.type === "pulumi:pulumi:StackReference") continue;
        let name = r.name;
        for (let n = 2; taken.has(`${r.type}::${name}`); n++) name = `${r.name}-${n}`;
        taken.add(`${r.type}::${name}`);
        const providerUrn = r.provider ? r.provider.slice(0, r.provider.lastIndexOf("::")) : undefined;
        flat.push({
            urn: r.urn,
            type: r.type,
            name,
            inputs: r.inputs,
            ...(PROVIDER_TYPE.test(r.type) ? { providerPackage: PROVIDER_TYPE.exec(r.type)![1] } : {}),
            ...(providerUrn && explicit.has(providerUrn) ? { provider: providerUrn } : {}),
        });
    }
    return flat;
}
