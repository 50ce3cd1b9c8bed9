// The docker resource provider: the Terraform provider behind Pulumi's bridge.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"pug/engine/docker/provider"
)

// schema.json is written by pulumi-tfgen-docker at build time.
//
//go:embed schema.json
var schema []byte

func main() { tfbridge.Main("docker", provider.Version, provider.Info(), schema) }
