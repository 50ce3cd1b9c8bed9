/**
 * The engine benchmark's baseline program (bench/engineRuns.ts): registers the custom resources
 * PUG's stack program registers for the same config (bench/flatShape.ts records them under the
 * mocks), with the same types, inputs and providers, flat under the stack (no components, no
 * dependencies) and with no PUG code: what the engine and the providers cost for those resources
 * alone. The file is the config value `pug-flat:resources`.
 */
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "fs";
import type { FlatResource } from "../flatResources";

class FlatProvider extends pulumi.ProviderResource {
    constructor(pkg: string, name: string, inputs: pulumi.Inputs) {
        super(pkg, name, inputs);
    }
}

class FlatCustomResource extends pulumi.CustomResource {
    constructor(type: string, name: string, inputs: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
        super(type, name, inputs, opts);
    }
}

const resources = JSON.parse(readFileSync(new pulumi.Config("pug-flat").require("resources"), "utf8")) as FlatResource[];
const providers = new Map<string, pulumi.ProviderResource>();
for (const r of resources) {
    if (r.providerPackage) providers.set(r.urn, new FlatProvider(r.providerPackage, r.name, r.inputs));
    else new FlatCustomResource(r.type, r.name, r.inputs, { provider: r.provider === undefined ? undefined : providers.get(r.provider) });
}
