package schema

import (
	"context"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
)

// GenerateResourceConfig joined tfprotov5.ProviderServer in terraform-plugin-go v0.31, which the
// Terraform docker provider requires, after the fork of the SDK that the bridge pins. Terraform
// calls it to write configuration for imported resources; Pulumi's bridge never does.
func (s *GRPCProviderServer) GenerateResourceConfig(ctx context.Context, req *tfprotov5.GenerateResourceConfigRequest) (*tfprotov5.GenerateResourceConfigResponse, error) {
	return &tfprotov5.GenerateResourceConfigResponse{Diagnostics: []*tfprotov5.Diagnostic{{
		Severity: tfprotov5.DiagnosticSeverityError,
		Summary:  "GenerateResourceConfig is not supported by this build",
	}}}, nil
}
