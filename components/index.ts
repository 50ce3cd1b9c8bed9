/**
 * PUG's components, for stacks that compose their own platform:
 *
 *     import { PugPlatform, GrafanaTenant, parseUserList } from "pug-grafana";
 *
 * This file is the package's entry point (package.json `exports`, built to dist/index.js).
 */
export * from "./datasources";
export * from "./dockerObjects";
export * from "./embeddedMysql";
export * from "./exporterMetrics";
export * from "./frontProxy";
export * from "./grafanaImage";
export * from "./grafanaTenant";
export * from "./imageReference";
export * from "./liveRedis";
export * from "./monitoring";
export * from "./naming";
export * from "./nginxConfig";
export * from "./pugPlatform";
export * from "./releaseChannels";
export * from "./removalGuard";
export * from "./stackConfig";
export * from "./swarm";
export * from "./swarmNodes";
export * from "./swarmScripts";
export * from "./tenantDatabase";
export * from "./tenantSettings";
export * from "./userLifecycle";
export * from "./users";
export * from "./userSources";
export * from "./validation";
