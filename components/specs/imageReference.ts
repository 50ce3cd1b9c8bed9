/**
 * Docker image references, checked against the grammar the Docker engine parses them with
 * (distribution's `reference` package):
 *
 *     reference        := name [ ":" tag ] [ "@" digest ]
 *     name             := [domain "/"] path-component ["/" path-component]*
 *     domain           := host [":" port]            (first component with "." or ":", "localhost", or upper case)
 *     path-component   := [a-z0-9]+ (separator [a-z0-9]+)*      separator := [._] | "__" | "-"+
 *     tag              := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *     digest           := algorithm ":" hex          (sha256: 64, sha384: 96, sha512: 128 lower-case hex digits)
 *
 * A Swarm service whose image does not parse fails at `pulumi up`, after other resources have
 * changed; checking it with the configuration stops the run before anything is registered.
 */
import { z } from "zod";
import { describeKind } from "../validation";

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const NAME_MAX_LENGTH = 255;

/** The parts of a reference, as Docker splits them. */
interface ImageReference {
    /** Registry host[:port], when the reference names one. */
    domain?: string;
    /** The repository path, e.g. `grafana/grafana`. */
    path: string;
    tag?: string;
    digest?: string;
}

/** Splits a reference the way Docker does, without validating the parts. */
function split(reference: string): ImageReference {
    let rest = reference;
    let digest: string | undefined;
    const at = rest.indexOf("@");
    if (at >= 0) {
        digest = rest.slice(at + 1);
        rest = rest.slice(0, at);
    }
    let tag: string | undefined;
    const colon = rest.lastIndexOf(":");
    if (colon > rest.lastIndexOf("/")) {
        tag = rest.slice(colon + 1);
        rest = rest.slice(0, colon);
    }
    const slash = rest.indexOf("/");
    const first = slash >= 0 ? rest.slice(0, slash) : "";
    // Docker's rule for "is the first component a registry?"
    const isDomain = slash >= 0 && (/[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase());
    return isDomain ? { domain: first, path: rest.slice(slash + 1), tag, digest } : { path: rest, tag, digest };
}

/** Why `reference` is not a Docker image reference, or undefined when it is one. */
export function imageReferenceProblem(reference: string): string | undefined {
    if (reference === "") return "is empty";
    if (/\s/.test(reference)) return "contains whitespace";
    const { domain, path, tag, digest } = split(reference);
    if (domain !== undefined && !DOMAIN.test(domain)) return `has an invalid registry host "${domain}"`;
    if (path === "") return "has no repository name";
    const components = path.split("/");
    if (components.some((c) => c !== c.toLowerCase())) return "has upper-case letters in the repository name (it must be lower case)";
    const bad = components.find((c) => !PATH_COMPONENT.test(c));
    if (bad !== undefined) {
        return `has an invalid repository name component "${bad}" (lower-case letters and digits, separated by ".", "_", "__" or dashes)`;
    }
    if (/^[a-f0-9]{64}$/.test(path) && domain === undefined) return "is a 64-digit hex string, which Docker reserves for image ids";
    const nameLength = (domain === undefined ? 0 : domain.length + 1) + path.length;
    if (nameLength > NAME_MAX_LENGTH) return `has a name of ${nameLength} characters (at most ${NAME_MAX_LENGTH})`;
    if (tag !== undefined && !TAG.test(tag)) {
        return `has an invalid tag "${tag}" (letters, digits, "_", "." or "-", not starting with "." or "-", at most 128 characters)`;
    }
    if (digest !== undefined) {
        const [algorithm, hex, ...more] = digest.split(":");
        const length = DIGEST_HEX_LENGTH[algorithm];
        if (length === undefined || hex === undefined || more.length || !new RegExp(`^[a-f0-9]{${length}}$`).test(hex)) {
            return `has an invalid digest "${digest}" (sha256: followed by 64 lower-case hex digits, or sha384/sha512)`;
        }
    }
    return undefined;
}

/** A zod schema for an image reference, with the reason in its message. @internal */
export const imageReferenceSchema = z
    .string({ error: (iss) => `must be an image reference string (got ${describeKind(iss.input)})` })
    .superRefine((image, ctx) => {
        const problem = imageReferenceProblem(image);
        if (problem) ctx.addIssue({ code: "custom", message: `${JSON.stringify(image)} is not a valid image reference: it ${problem}` });
    });
