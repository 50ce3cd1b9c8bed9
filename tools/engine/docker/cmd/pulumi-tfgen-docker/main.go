// Writes the Pulumi schema of the bridged provider (`pulumi-tfgen-docker schema --out DIR`).
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"pug/engine/docker/provider"
)

func main() { tfgen.Main("docker", provider.Version, provider.Info()) }
