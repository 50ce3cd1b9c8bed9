import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { imageReferenceProblem } from "./imageReference";

/**
 * An independent statement of Docker's grammar (distribution/reference's anchored
 * ReferenceRegexp, plus the checks Docker makes after matching it), used as an oracle for the
 * splitting parser under test. One rule comes from Docker's splitDockerDomain rather than the
 * regexp: a first component with "." or ":", "localhost" or upper case names a registry, so it
 * must be a host (the regexp alone would accept "my_reg.io/x" as a path, which no pull can reach), and any other
 * first component is part of the repository path.
 */
const ALNUM = "[a-z0-9]+";
const PATH_COMPONENT = `${ALNUM}(?:(?:[._]|__|-+)${ALNUM})*`;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const NAME = `(?:${HOST}(?::[0-9]+)?/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const REFERENCE = new RegExp(`^(${NAME})(?::([\\w][\\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$`);

function dockerAccepts(reference: string): boolean {
    const m = REFERENCE.exec(reference);
    if (!m) return false;
    const [, name, , digest] = m;
    if (name.length > 255) return false;
    const slash = name.indexOf("/");
    const first = name.slice(0, Math.max(slash, 0));
    const namesRegistry = slash >= 0 && (/[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase());
    if (namesRegistry ? !new RegExp(`^${HOST}(?::[0-9]+)?$`).test(first) : !new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`).test(name)) return false;
    if (/^[a-f0-9]{64}$/.test(name)) return false;
    if (digest !== undefined) {
        const [algorithm, hex] = digest.split(":");
        const length = { sha256: 64, sha384: 96, sha512: 128 }[algorithm];
        if (length === undefined || !new RegExp(`^[a-f0-9]{${length}}$`).test(hex)) return false;
    }
    return true;
}

const SHA = "a".repeat(64);

describe("imageReferenceProblem", () => {
    it.each([
        "grafana/grafana",
        "grafana/grafana:12.0.2",
        "grafana/grafana-enterprise:12.0.2-ubuntu",
        "redis",
        "localhost:5000/pug/grafana:canary",
        "registry.example.com/team/sub/grafana:v1",
        "[::1]:5000/grafana",
        `grafana/grafana@sha256:${SHA}`,
        `grafana/grafana:12.0.2@sha256:${SHA}`,
        "a__b/c-d.e_f---g",
        "Registry.Example.com/grafana",
    ])("accepts %s", (ref) => {
        expect(imageReferenceProblem(ref)).toBeUndefined();
    });

    it.each([
        ["", "is empty"],
        ["grafana/grafana :1", "contains whitespace"],
        ["grafana/Grafana:12", "has upper-case letters in the repository name (it must be lower case)"],
        ["Grafana", "has upper-case letters in the repository name (it must be lower case)"],
        ["grafana/-grafana", 'has an invalid repository name component "-grafana" (lower-case letters and digits, separated by ".", "_", "__" or dashes)'],
        ["grafana//grafana", 'has an invalid repository name component "" (lower-case letters and digits, separated by ".", "_", "__" or dashes)'],
        ["grafana/grafana:", 'has an invalid tag "" (letters, digits, "_", "." or "-", not starting with "." or "-", at most 128 characters)'],
        ["grafana/grafana:.1", 'has an invalid tag ".1" (letters, digits, "_", "." or "-", not starting with "." or "-", at most 128 characters)'],
        [`grafana:${"1".repeat(129)}`, `has an invalid tag "${"1".repeat(129)}" (letters, digits, "_", "." or "-", not starting with "." or "-", at most 128 characters)`],
        ["grafana@sha256:abc", 'has an invalid digest "sha256:abc" (sha256: followed by 64 lower-case hex digits, or sha384/sha512)'],
        [`grafana@md5:${SHA}`, `has an invalid digest "md5:${SHA}" (sha256: followed by 64 lower-case hex digits, or sha384/sha512)`],
        ["exa_mple.com/grafana", 'has an invalid registry host "exa_mple.com"'],
        ["example.com:port/grafana", 'has an invalid registry host "example.com:port"'],
        ["example.com/", "has no repository name"],
        [SHA, "is a 64-digit hex string, which Docker reserves for image ids"],
        [`r.io/${"a".repeat(255)}`, "has a name of 260 characters (at most 255)"],
    ])("refuses %j: %s", (ref, problem) => {
        expect(imageReferenceProblem(ref)).toBe(problem);
    });

    it("accepts every reference generated from the grammar", () => {
        const reference = fc.stringMatching(REFERENCE).filter(dockerAccepts);
        fc.assert(fc.property(reference, (ref) => imageReferenceProblem(ref) === undefined), { numRuns: 500 });
    });

    it("agrees with the grammar on arbitrary strings of reference characters", () => {
        const piece = fc.constantFrom("a", "z", "0", "9", "A", ".", "_", "__", "-", "/", ":", "@", "sha256:", SHA, "localhost", "example.com", "[::1]", " ");
        const candidate = fc.array(piece, { minLength: 1, maxLength: 12 }).map((parts) => parts.join(""));
        fc.assert(
            fc.property(candidate, (ref) => {
                expect(imageReferenceProblem(ref) === undefined, ref).toBe(dockerAccepts(ref));
            }),
            { numRuns: 3000 },
        );
    });
});
