/**
 * The PUG stack: reads the stack configuration and the user list, validates all of it, checks
 * the list against the last update (the mass-removal guard), and only then declares the platform.
 * A bad setting, a bad user entry or a refused removal stops the program before any resource is
 * registered, so it changes nothing. The guard runs in `pulumi preview` too: a pull request whose
 * preview would remove too many users fails its preview, with the same message `up` would give.
 */
import * as pulumi from "@pulumi/pulumi";
// PUG's own stack uses internal modules too (the config readers, the guard): it imports them one
// by one, the public API being components/index.ts.
import { PugPlatform } from "./components/pugPlatform";
import { checkRemovals, previousActiveIds, previousTenantIds } from "./components/users/removalGuard";
import { readStackSettings } from "./stack/stackConfig";
import { checkRestores } from "./components/users/userLifecycle";
import { loadUsers } from "./components/users/userSources";
import { readUserLifecycleSettings } from "./stack/userLifecycleConfig";
import { readUserSourceConfig } from "./stack/userSourceConfig";
import { InvalidInputError } from "./components/validation";

// Pulumi's Node.js runtime calls the module's export when it is a function. Under CommonJS
// (this project's tsconfig) that is `export =`: an `export default` function would be an object's
// `default` property, never called, and `pulumi up` would deploy nothing, silently.
export = main;

async function main() {
    const config = new pulumi.Config("pug");
    const settings = readStackSettings(config);
    const lifecycle = readUserLifecycleSettings(config);
    const source = readUserSourceConfig(config, "users", { log: (m) => pulumi.log.warn(m) });
    const users = await loadUsers(source, { maxReplicas: settings.grafana.maxReplicas });
    const ids = users.map((u) => u.id);

    const previous = await lastUpdateTenants();
    const restores = checkRestores(lifecycle.restoreUsers, ids, previous.ids);
    if (restores.problems.length) throw new InvalidInputError(restores.problems.map((p) => `pug:restoreUsers: ${p}`));
    const verdict = checkRemovals({
        previous: previous.ids,
        previousActive: previous.activeIds,
        next: ids,
        nextInactive: users.filter((u) => !u.active).map((u) => u.id),
        source: source.describe(),
        allowance: lifecycle.allowRemovals,
    });
    if (verdict.refusal) throw new InvalidInputError([verdict.refusal]);
    for (const warning of [...verdict.warnings, ...restores.warnings.map((w) => `pug:restoreUsers: ${w}`)]) pulumi.log.warn(warning);

    const platform = new PugPlatform("pug", {
        domain: settings.domain,
        urlMode: settings.urlMode,
        users,
        restoreUsers: lifecycle.restoreUsers,
        swarm: settings.docker,
        mysql: settings.mysql,
        redis: settings.redis,
        grafana: settings.grafana,
        registry: settings.registry,
        userSecrets: settings.userSecrets,
        monitoring: settings.monitoring,
        proxy: settings.proxy,
    });

    return {
        tenants: platform.tenants,
        // the guard's record of whose Grafana runs: deactivating many users is refused like removing them
        activeTenants: platform.activeTenants,
        urls: platform.urls,
        serviceNames: platform.serviceNames,
        // what each user's Grafana runs: the release runbook reads it before and after an upgrade
        images: platform.images,
        /** Swarm node id by host, when PUG made the swarm from pug:docker.nodes. */
        swarmNodeIds: platform.swarm.nodes?.nodeIds,
        /** The operations Grafana's admin password (user admin); read it with `pulumi stack output --show-secrets`. */
        operationsGrafanaAdminPassword: platform.monitoring?.grafanaAdminPassword,
        proxyPublishedPort: platform.proxy.publishedPort,
    };
}

/**
 * The user ids this stack's last update exported, and which of them were active, read through a
 * reference to the stack itself; undefined ids on a first deployment.
 */
async function lastUpdateTenants(): Promise<{ ids?: string[]; activeIds?: string[] }> {
    const self = new pulumi.StackReference("pug-last-update", {
        name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
    });
    const output = async (name: string) => {
        const details = await self.getOutputDetails(name);
        return details.value ?? details.secretValue;
    };
    return { ids: previousTenantIds(await output("tenants")), activeIds: previousActiveIds(await output("activeTenants"), await output("urls")) };
}
