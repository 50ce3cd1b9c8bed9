// Command pulumi-language-nodejs is the Node.js language host PUG's engine build puts on PATH: the
// newest real host the Go module proxy here serves (sdk v3.68.0, see versions.env) behind a front
// that adds what that host lacks, RunPlugin.
//
// The CLI runs policy packs (`pulumi preview --policy-pack`) and source-based plugins through the
// language host's RunPlugin; v3.68.0's answers "not supported". This front starts the real host
// (beside it, in inner/), forwards every call to it unchanged, byte for byte, and answers RunPlugin
// itself the way the Node.js host does: it runs @pulumi/pulumi's run-policy-pack or run-plugin from
// the plugin's own node_modules, in node, and streams the output back to the engine.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

func main() {
	if err := serve(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs (PUG front): %v\n", err)
		os.Exit(1)
	}
}

// serve starts the inner host with our arguments, then listens and prints our port, as every
// plugin does; it returns when the engine closes our standard input or the inner host ends.
func serve(args []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	inner := exec.Command(filepath.Join(filepath.Dir(self), "inner", "pulumi-language-nodejs"), args...)
	inner.Stderr = os.Stderr
	innerOut, err := inner.StdoutPipe()
	if err != nil {
		return err
	}
	if err := inner.Start(); err != nil {
		return fmt.Errorf("starting the inner host: %w", err)
	}
	defer func() { _ = inner.Process.Kill() }()
	port, err := firstLine(innerOut)
	if err != nil {
		return fmt.Errorf("reading the inner host's port: %w", err)
	}
	go func() { _, _ = io.Copy(os.Stdout, innerOut) }()

	conn, err := grpc.NewClient("127.0.0.1:"+port, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()

	server := grpc.NewServer(grpc.ForceServerCodec(passThrough{}), grpc.UnknownServiceHandler(forwardTo(conn)))
	server.RegisterService(runPluginOnly(), &host{})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("%d\n", listener.Addr().(*net.TCPAddr).Port)
	done := make(chan error, 1)
	go func() { done <- server.Serve(listener) }()
	go func() { done <- inner.Wait() }()
	return <-done
}

// firstLine reads up to the first newline, one byte at a time so nothing after it is consumed.
func firstLine(r io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := r.Read(b); err != nil {
			return "", err
		}
		if b[0] == '\n' {
			return strings.TrimSpace(string(line)), nil
		}
		line = append(line, b[0])
	}
}

// runPluginOnly is the LanguageRuntime service with RunPlugin alone: every other method of it is
// unknown to our server, and so handled by forwardTo.
func runPluginOnly() *grpc.ServiceDesc {
	desc := pulumirpc.LanguageRuntime_ServiceDesc
	desc.Methods = nil
	desc.Streams = nil
	for _, s := range pulumirpc.LanguageRuntime_ServiceDesc.Streams {
		if s.StreamName == "RunPlugin" {
			desc.Streams = append(desc.Streams, s)
		}
	}
	return &desc
}

// frame is a message forwarded as it came: passThrough neither decodes nor encodes it.
type frame struct{ payload []byte }

// passThrough is protobuf for our own messages and raw bytes for forwarded frames.
type passThrough struct{}

func (passThrough) Name() string { return "proto" }

func (passThrough) Marshal(v any) ([]byte, error) {
	if f, ok := v.(*frame); ok {
		return f.payload, nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("cannot encode %T", v)
	}
	return proto.Marshal(m)
}

func (passThrough) Unmarshal(data []byte, v any) error {
	if f, ok := v.(*frame); ok {
		f.payload = append([]byte(nil), data...)
		return nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("cannot decode into %T", v)
	}
	return proto.Unmarshal(data, m)
}

// forwardTo relays a call to the inner host: metadata, every message both ways, headers, trailers
// and the final status (an "unimplemented" from the inner host reaches the engine as such).
func forwardTo(conn *grpc.ClientConn) grpc.StreamHandler {
	return func(_ any, in grpc.ServerStream) error {
		method, ok := grpc.MethodFromServerStream(in)
		if !ok {
			return errors.New("no method in the stream")
		}
		ctx, cancel := context.WithCancel(in.Context())
		defer cancel()
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			ctx = metadata.NewOutgoingContext(ctx, md)
		}
		out, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method, grpc.ForceCodec(passThrough{}))
		if err != nil {
			return err
		}
		go func() {
			for {
				f := &frame{}
				if err := in.RecvMsg(f); err != nil {
					_ = out.CloseSend()
					return
				}
				if err := out.SendMsg(f); err != nil {
					return
				}
			}
		}()
		for first := true; ; first = false {
			f := &frame{}
			err := out.RecvMsg(f)
			if first {
				if header, herr := out.Header(); herr == nil {
					_ = in.SendHeader(header)
				}
			}
			if err != nil {
				in.SetTrailer(out.Trailer())
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			if err := in.SendMsg(f); err != nil {
				return err
			}
		}
	}
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
}

// RunPlugin runs a Node.js plugin program the way Pulumi's Node.js host does: a policy pack
// (kind analyzer) through @pulumi/pulumi/cmd/run-policy-pack with the engine's address first and
// the pack's directory last, in that directory; any other plugin through cmd/run-plugin with its
// directory first, in the engine's working directory. The module comes from the plugin's own
// node_modules, so the plugin runs on the SDK it was installed with.
func (*host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetProgram()
	}
	module, args, cwd := "@pulumi/pulumi/cmd/run-plugin", append([]string{dir}, req.GetArgs()...), req.GetPwd()
	if req.GetKind() == string(apitype.AnalyzerPlugin) {
		module, args, cwd = "@pulumi/pulumi/cmd/run-policy-pack", append(append([]string{}, req.GetArgs()...), dir), dir
	}
	script, err := resolveModule(module, dir)
	if err != nil {
		return err
	}
	cmd := exec.Command("node", append([]string{script}, args...)...)
	cmd.Dir = cwd
	cmd.Env = append(append([]string{}, req.GetEnv()...), runtimeEnv(req.GetInfo().GetOptions().AsMap())...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if status, ok := exit.Sys().(syscall.WaitStatus); ok {
				return fmt.Errorf("plugin %s exited with code %d", req.GetName(), status.ExitStatus())
			}
		}
		return fmt.Errorf("running plugin %s: %w", req.GetName(), err)
	}
	return closer.Close()
}

// resolveModule finds a module as Node does from the plugin's directory.
func resolveModule(module, dir string) (string, error) {
	out, err := exec.Command("node", "-e", "process.stdout.write(require.resolve(process.argv[1], { paths: [process.argv[2]] }))", module, dir).Output()
	if err != nil {
		return "", fmt.Errorf("%s not found from %s (are the plugin's dependencies installed?): %w", module, dir, err)
	}
	return string(out), nil
}

// runtimeEnv passes the runtime options of the plugin's PulumiPlugin.yaml or PulumiPolicy.yaml
// (`typescript`, `tsconfig`) to @pulumi/pulumi's runner, as the Node.js host does.
func runtimeEnv(options map[string]any) []string {
	env := []string{}
	if typescript, ok := options["typescript"].(bool); !ok || typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if tsconfig, ok := options["tsconfig"].(string); ok && tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+tsconfig)
	}
	return env
}
