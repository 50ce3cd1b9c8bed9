// Package provider maps the Terraform docker provider (kreuzwerker/terraform-provider-docker, as
// served by the Go module proxy) onto the Pulumi tokens of the @pulumi/docker npm SDK, for the
// resources PUG declares. Property names are left to the bridge's own naming (snake_case to
// camelCase, lists pluralised, MaxItems=1 blocks flattened), which is how the SDK's names were made.
package provider

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/terraform-providers/terraform-provider-docker/shim"
)

// Version is stamped at link time.
var Version = "0.0.0"

func res(name string) *tfbridge.ResourceInfo {
	return &tfbridge.ResourceInfo{Tok: tfbridge.MakeResource("docker", "index", name)}
}

func data(name string) *tfbridge.DataSourceInfo {
	return &tfbridge.DataSourceInfo{Tok: tfbridge.MakeDataSource("docker", "index", name)}
}

// Info is the bridge's description of the provider.
func Info() tfbridge.ProviderInfo {
	return tfbridge.ProviderInfo{
		P:           shimv2.NewProvider(shim.NewProvider(Version)),
		Name:        "docker",
		Version:     Version,
		Description: "Docker resources for PUG, bridged from the Terraform docker provider",
		License:     "MPL-2.0",
		GitHubOrg:   "kreuzwerker",
		Config: map[string]*tfbridge.SchemaInfo{
			"host": {Default: &tfbridge.DefaultInfo{EnvVars: []string{"DOCKER_HOST"}, Value: "unix:///var/run/docker.sock"}},
			// the SDK's name: not plural
			"registry_auth": {Name: "registryAuth", MaxItemsOne: tfbridge.False()},
		},
		// Every resource and data source under the name the SDK gives it, so that the whole SDK
		// works against this build, not only the resources PUG declares.
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_buildx_builder": res("BuildxBuilder"),
			// The SDK calls a Docker config a ServiceConfig.
			"docker_config": res("ServiceConfig"),
			"docker_container": {
				Tok: tfbridge.MakeResource("docker", "index", "Container"),
				// the SDK keeps these two singular
				Fields: map[string]*tfbridge.SchemaInfo{
					"command":           {Name: "command"},
					"networks_advanced": {Name: "networksAdvanced"},
				},
			},
			// The SDK's Image is its own buildx resource; the Terraform image is RemoteImage.
			"docker_image":          res("RemoteImage"),
			"docker_network":        res("Network"),
			"docker_plugin":         res("Plugin"),
			"docker_registry_image": res("RegistryImage"),
			"docker_secret":         res("Secret"),
			"docker_service":        res("Service"),
			"docker_tag":            res("Tag"),
			"docker_volume":         res("Volume"),
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"docker_image":                    data("getRemoteImage"),
			"docker_logs":                     data("getLogs"),
			"docker_network":                  data("getNetwork"),
			"docker_plugin":                   data("getPlugin"),
			"docker_registry_image":           data("getRegistryImage"),
			"docker_registry_image_manifests": data("getRegistryImageManifests"),
		},
	}
}
