import type * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

/**
 * Passwords go into grafana.ini values and Grafana's `$__` expansion: `#` and `;` start comments
 * in ini, `$` starts an expansion, quotes and backslashes need escaping. Only these specials are used.
 */
export const SAFE_PASSWORD_SPECIALS = "-_.+=~^*!@%";

/** A password of `length` characters safe in grafana.ini and shells: every password PUG generates. */
export function safePassword(name: string, length: number, opts: pulumi.CustomResourceOptions): random.RandomPassword {
    return new random.RandomPassword(name, { length, special: true, overrideSpecial: SAFE_PASSWORD_SPECIALS, minSpecial: 2 }, opts);
}
