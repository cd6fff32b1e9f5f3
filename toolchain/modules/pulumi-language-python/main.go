// Command pulumi-language-python is a minimal Pulumi language host for Python programs.
//
// Why it exists: the upstream host lives in its own Go module
// (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3), and the module proxy
// this project builds from does not serve that module. The engine only needs a small part of
// the LanguageRuntime service to run a Python program: this host implements that part and
// answers Unimplemented for the rest (the engine falls back, or the command, such as
// `pulumi new` or `pulumi convert`, is not one this project uses).
//
// What it does, like the upstream host:
//   - serves gRPC on 127.0.0.1, prints the port on stdout (the plugin handshake);
//   - Run: starts `<venv>/bin/python -u pulumi-language-python-exec --monitor ... PROGRAM`, the
//     exec shim shipped in the pulumi/sdk/v3 module, with the stack config in PULUMI_CONFIG and
//     the secret keys in PULUMI_CONFIG_SECRET_KEYS; exit code 32 means "the program already
//     reported the error" (bail);
//   - the virtualenv comes from the `virtualenv` runtime option in Pulumi.yaml, relative to the
//     project root, else python3 from PATH;
//   - GetRequiredPackages answers an empty list: this toolchain puts every provider binary on
//     PATH and disables plugin downloads, so there is nothing to install;
//   - RunPlugin: runs a policy pack written in Python (`pulumi preview --policy-pack DIR`, where
//     DIR/PulumiPolicy.yaml says `runtime: python`), see RunPlugin below.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

// exitedAfterShowingUserActionableMessage is the exit code the exec shim uses when it has
// already logged the error through the engine.
const exitedAfterShowingUserActionableMessage = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	execShim      string
}

func main() {
	// Accept (and ignore) the flags older engines pass, so an engine upgrade does not break us.
	_ = flag.String("tracing", "", "tracing endpoint (ignored)")
	_ = flag.String("root", "", "project root (ignored, taken from ProgramInfo)")
	flag.Parse()

	self, err := os.Executable()
	if err != nil {
		fatalf("cannot locate own executable: %v", err)
	}
	shim := filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")
	if _, err := os.Stat(shim); err != nil {
		fatalf("exec shim %s missing (run `make toolchain`): %v", shim, err)
	}

	h := &host{engineAddress: flag.Arg(0), execShim: shim}
	cancel := make(chan bool)
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		close(cancel)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
		Options: rpcutil.TracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fatalf("could not start language host RPC server: %v", err)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fatalf("language host RPC server stopped: %v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: "+format+"\n", args...)
	os.Exit(1)
}

func (h *host) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *host) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// python returns the interpreter to run: <root>/<virtualenv>/bin/python when the project sets
// the `virtualenv` runtime option, else python3 from PATH.
func python(info *pulumirpc.ProgramInfo) (string, error) {
	venv := ""
	if opts := info.GetOptions(); opts != nil {
		if v, ok := opts.GetFields()["virtualenv"]; ok {
			venv = v.GetStringValue()
		}
	}
	if venv == "" {
		return "python3", nil
	}
	if !filepath.IsAbs(venv) {
		venv = filepath.Join(info.GetRootDirectory(), venv)
	}
	py := filepath.Join(venv, "bin", "python")
	if _, err := os.Stat(py); err != nil {
		return "", fmt.Errorf(
			"the virtualenv %s named in %s/Pulumi.yaml (or PulumiPolicy.yaml) does not exist; run `make install`",
			venv, info.GetRootDirectory())
	}
	return py, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	if info == nil {
		return nil, errors.New("RunRequest carries no ProgramInfo; this host needs Pulumi CLI 3.100 or newer")
	}
	py, err := python(info)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	program := info.GetEntryPoint()
	if program == "" || program == "." {
		program = info.GetProgramDirectory()
	} else if !filepath.IsAbs(program) {
		program = filepath.Join(info.GetProgramDirectory(), program)
	}

	args := []string{
		"-u", h.execShim,
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engineAddress,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", req.GetPwd(),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
		"--root_directory", info.GetRootDirectory(),
	}
	if req.GetDryRun() {
		args = append(args, "--dry_run", "true")
	}
	if req.GetOrganization() != "" {
		args = append(args, "--organization", req.GetOrganization())
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("marshalling config: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secrets, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("marshalling secret keys: %w", err)
	}

	cmd := exec.CommandContext(ctx, py, args...)
	cmd.Dir = req.GetPwd()
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(),
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secrets),
	)
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitedAfterShowingUserActionableMessage {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Problem executing program: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	out, err := exec.Command("python3", "--version").Output()
	if err != nil {
		return &pulumirpc.AboutResponse{Executable: "python3"}, nil
	}
	return &pulumirpc.AboutResponse{Executable: "python3", Version: string(out)}, nil
}

// analyzerKind is RunPluginRequest.kind for a policy pack (apitype.AnalyzerPlugin).
const analyzerKind = "analyzer"

// RunPlugin runs a policy pack written in Python.
//
// Why: for `pulumi preview/up --policy-pack DIR`, engine v3.274 loads DIR/PulumiPolicy.yaml and,
// because a language host for its runtime (`python`) is on PATH, asks that host to run the
// pack with RunPlugin (pkg/v3/resource/plugin: NewPolicyAnalyzer -> newPlugin -> RunPlugin);
// there is no fallback to a `pulumi-analyzer-policy-python` executable in this engine version.
//
// What, like the upstream host: `<venv>/bin/python -u -m pulumi.policy ENGINE_ADDRESS DIR`. The
// `pulumi.policy` module of the Python SDK runs DIR/__main__.py, whose pulumi_policy.PolicyPack
// serves the Analyzer gRPC service and prints its port on stdout. The virtualenv is the
// `virtualenv` runtime option of PulumiPolicy.yaml, relative to DIR. The child's stdout and
// stderr are streamed back as they come (the engine reads the port from them); the last message
// is the exit code. The engine ends the plugin by cancelling the call, which kills the child.
//
// Other plugin kinds (providers written in Python, PulumiPlugin.yaml) are not served.
func (h *host) RunPlugin(
	req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	if req.GetKind() != analyzerKind {
		return status.Errorf(codes.Unimplemented,
			"this language host runs only Python policy packs (kind %q), not plugins of kind %q",
			analyzerKind, req.GetKind())
	}
	info := req.GetInfo()
	if info == nil {
		return errors.New("RunPluginRequest carries no ProgramInfo; this host needs Pulumi CLI 3.100 or newer")
	}
	py, err := python(info)
	if err != nil {
		return err
	}

	args := []string{"-u", "-m", "pulumi.policy"}
	args = append(args, req.GetArgs()...) // the engine address
	args = append(args, info.GetProgramDirectory())

	stream := &pluginStream{server: server}
	cmd := exec.CommandContext(server.Context(), py, args...)
	cmd.Dir = req.GetPwd()
	cmd.Env = req.GetEnv()
	if len(cmd.Env) == 0 {
		cmd.Env = os.Environ()
	}
	cmd.Stdout = pluginOutput{stream: stream, stderr: false}
	cmd.Stderr = pluginOutput{stream: stream, stderr: true}

	code := 0
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("starting policy pack %s with %s: %w", info.GetProgramDirectory(), py, err)
		}
		code = exitErr.ExitCode()
	}
	return stream.send(&pulumirpc.RunPluginResponse{
		Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)},
	})
}

// pluginStream serialises messages on a RunPlugin stream: stdout and stderr are copied by two
// goroutines, and a gRPC stream's Send must not be called concurrently.
type pluginStream struct {
	mu     sync.Mutex
	server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]
}

func (s *pluginStream) send(msg *pulumirpc.RunPluginResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.server.Send(msg)
}

// pluginOutput is an io.Writer that forwards one of the child's output streams.
type pluginOutput struct {
	stream *pluginStream
	stderr bool
}

func (w pluginOutput) Write(p []byte) (int, error) {
	// A copy: the caller reuses p, and gRPC may read a sent message after Send returns.
	data := bytes.Clone(p)
	msg := &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: data}}
	if w.stderr {
		msg = &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: data}}
	}
	if err := w.stream.send(msg); err != nil {
		return 0, err
	}
	return len(p), nil
}
