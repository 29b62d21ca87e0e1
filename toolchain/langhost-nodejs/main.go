// pulumi-language-nodejs: a small Node.js language host for the Pulumi engine, written for this project.
//
// Why it exists: the Go module proxy reachable here refuses the upstream nested module
// github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 (403 "This module version is not available"),
// while it serves github.com/pulumi/pulumi/sdk/v3. This host implements the parts of the LanguageRuntime gRPC
// service that `pulumi preview`/`pulumi up` and `--policy-pack` with a Node.js pack need, on top of sdk/v3:
//
//   - GetPluginInfo, Handshake (unimplemented: the engine falls back), GetRequiredPackages/GetRequiredPlugins
//     (scans node_modules for package.json files with "pulumi": {"resource": true});
//   - Run: starts `node <@pulumi/pulumi/cmd/run> --monitor … <entry point>` in the program directory, with the
//     stack config in PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS; exit code 32 means "already reported" (Bail);
//   - RunPlugin: kind "analyzer" runs `@pulumi/pulumi/cmd/run-policy-pack` from the policy pack's node_modules
//     behind sdk.PolicyProxy (the engine's StackConfigure goes to the proxy, which passes config to the pack);
//     other kinds run `@pulumi/pulumi/cmd/run-plugin`.
//
// Not implemented (the engine copes, or they are not used by this project): InstallDependencies, About,
// GetProgramDependencies, code generation, debugging, bun, synchronous invokes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The @pulumi/pulumi runtime exits with this code after it has already printed an actionable message.
const exitCodeAlreadyReported = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

func main() {
	// The engine starts us as `pulumi-language-nodejs [flags] <engine address>`. Flags (tracing, logging, root)
	// are accepted and ignored; the last positional argument is the engine address.
	var engine string
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			engine = a
		}
	}
	h := &host{engineAddress: engine}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "could not start language host RPC server: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "language host RPC stopped serving: %v\n", err)
		os.Exit(1)
	}
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// ---- required packages ----

type packageJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Pulumi  struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

// findNodeModules returns the nearest node_modules folder at or above dir.
func findNodeModules(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		nm := filepath.Join(d, "node_modules")
		if st, err := os.Stat(nm); err == nil && st.IsDir() {
			return nm
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

func requiredPackages(programDir string) ([]*pulumirpc.PackageDependency, error) {
	nm := findNodeModules(programDir)
	if nm == "" {
		return nil, nil
	}
	seen := map[string]*pulumirpc.PackageDependency{}
	var visit func(dir string, depth int)
	visit = func(dir string, depth int) {
		entries, err := os.ReadDir(dir)
		if err != nil || depth > 6 {
			return
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if strings.HasPrefix(e.Name(), "@") {
				visit(p, depth) // scope folder
				continue
			}
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if b, err := os.ReadFile(filepath.Join(p, "package.json")); err == nil {
				var pj packageJSON
				if json.Unmarshal(b, &pj) == nil && pj.Pulumi.Resource {
					name := pj.Pulumi.Name
					if name == "" {
						name = strings.TrimPrefix(pj.Name, "@pulumi/")
						name = strings.TrimPrefix(name, "@")
					}
					v := pj.Pulumi.Version
					if v == "" {
						v = pj.Version
					}
					if v != "" && !strings.HasPrefix(v, "v") {
						v = "v" + v
					}
					key := name + "@" + v
					if _, ok := seen[key]; !ok {
						seen[key] = &pulumirpc.PackageDependency{
							Name: name, Kind: "resource", Version: v, Server: pj.Pulumi.Server,
						}
					}
				}
			}
			if nested := filepath.Join(p, "node_modules"); dirExists(nested) {
				visit(nested, depth+1)
			}
		}
	}
	visit(nm, 0)
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*pulumirpc.PackageDependency, 0, len(keys))
	for _, k := range keys {
		out = append(out, seen[k])
	}
	return out, nil
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func (h *host) GetRequiredPackages(
	_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	pkgs, err := requiredPackages(req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: pkgs}, nil
}

func (h *host) GetRequiredPlugins(
	_ context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetProgram() //nolint:staticcheck
	}
	pkgs, err := requiredPackages(dir)
	if err != nil {
		return nil, err
	}
	var plugins []*pulumirpc.PluginDependency
	for _, p := range pkgs {
		plugins = append(plugins, &pulumirpc.PluginDependency{
			Name: p.Name, Kind: p.Kind, Version: p.Version, Server: p.Server,
		})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// ---- running programs ----

// locate resolves a module such as "@pulumi/pulumi/cmd/run" from dir the way Node would (node_modules upwards).
func locate(module, dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "node_modules", filepath.FromSlash(module))
		if dirExists(p) {
			return p, nil
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", fmt.Errorf("could not find %s from %s: it looks like the Pulumi SDK has not been installed; "+
		"have you run npm install?", module, dir)
}

func nodeOptionsEnv(opts map[string]any) []string {
	var env []string
	if v, ok := opts["typescript"]; ok {
		if b, ok := v.(bool); ok && b {
			env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
		}
	} else {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if v, ok := opts["tsconfig"].(string); ok && v != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+v)
	}
	return env
}

func nodeArgs(opts map[string]any) []string {
	if v, ok := opts["nodeargs"].(string); ok && v != "" {
		return strings.Fields(v)
	}
	return nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	programDir := info.GetProgramDirectory()
	if programDir == "" {
		programDir = req.GetPwd()
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find node on the $PATH: " + err.Error()}, nil
	}
	runPath := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
	if runPath == "" {
		runPath, err = locate("@pulumi/pulumi/cmd/run", programDir)
		if err != nil {
			return &pulumirpc.RunResponse{Error: err.Error()}, nil
		}
	}

	// Config keys go to the runtime in the <package>:config:<name> form it reads.
	cfg := map[string]string{}
	for k, v := range req.GetConfig() {
		pk, err := config.ParseKey(k)
		if err != nil {
			return &pulumirpc.RunResponse{Error: "bad config key " + k + ": " + err.Error()}, nil
		}
		cfg[pk.Namespace()+":config:"+pk.Name()] = v
	}
	cfgJSON, _ := json.Marshal(cfg)
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, _ := json.Marshal(secretKeys)

	var opts map[string]any
	if info.GetOptions() != nil {
		opts = info.GetOptions().AsMap()
	}

	args := append([]string{}, nodeArgs(opts)...)
	args = append(args, runPath)
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("root-directory", info.GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", programDir)
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	env := append(os.Environ(), "PULUMI_CONFIG="+string(cfgJSON), "PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON))
	env = append(env, nodeOptionsEnv(opts)...)

	cmd := exec.CommandContext(ctx, nodeBin, args...)
	cmd.Dir = programDir
	cmd.Env = env
	// Wrap so exec copies through a pipe: node may flip its stdio to non-blocking mode.
	cmd.Stdout = struct{ *os.File }{os.Stdout}
	cmd.Stderr = struct{ *os.File }{os.Stderr}
	if err := cmd.Run(); err != nil {
		_ = os.Stdout.Sync()
		_ = os.Stderr.Sync()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitCodeAlreadyReported {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Problem executing program (could not run node): %v", err),
		}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// ---- plugins, including policy packs ----

func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := server.Context()
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("could not find node on the $PATH: %w", err)
	}
	programDir := req.GetInfo().GetProgramDirectory()
	isAnalyzer := req.GetKind() == "analyzer"
	module := "@pulumi/pulumi/cmd/run-plugin"
	if isAnalyzer {
		module = "@pulumi/pulumi/cmd/run-policy-pack"
	}
	runPath, err := locate(module, programDir)
	if err != nil {
		return err
	}

	var opts map[string]any
	if req.GetInfo().GetOptions() != nil {
		opts = req.GetInfo().GetOptions().AsMap()
	}
	env := append(append([]string{}, req.GetEnv()...), nodeOptionsEnv(opts)...)

	args := append([]string{}, nodeArgs(opts)...)
	args = append(args, runPath)
	if isAnalyzer {
		// Policy packs take the engine address first and the pack directory last.
		args = append(args, req.GetArgs()...)
		args = append(args, programDir)
	} else {
		args = append(args, programDir)
		args = append(args, req.GetArgs()...)
	}

	var proxy *sdk.PolicyProxy
	if isAnalyzer {
		// The engine talks to the proxy first (Handshake, ConfigureStack); the proxy prints its port on our
		// stdout, and hands the stack configuration to us so the pack can be started with it in its env.
		proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("could not start policy pack proxy: %w", err)
		}
		stk, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("could not get stack configuration: %w", err)
		}
		if stk != nil {
			set := func(k, v string) {
				if v != "" {
					env = append(env, k+"="+v)
				}
			}
			set("PULUMI_NODEJS_ORGANIZATION", stk.Organization)
			set("PULUMI_NODEJS_PROJECT", stk.Project)
			set("PULUMI_NODEJS_STACK", stk.Stack)
			set("PULUMI_NODEJS_DRY_RUN", strconv.FormatBool(stk.DryRun))
			if stk.Config != nil {
				b, err := json.Marshal(stk.Config)
				if err != nil {
					return fmt.Errorf("could not marshal stack configuration: %w", err)
				}
				set("PULUMI_CONFIG", string(b))
			}
		}
	}

	cmd := exec.CommandContext(ctx, nodeBin, args...)
	if isAnalyzer {
		cmd.Dir = programDir // policy packs have always run from their own folder
	} else {
		cmd.Dir = req.GetPwd()
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr

	if err := cmd.Start(); err != nil {
		return fmt.Errorf("could not start node: %w", err)
	}
	if proxy != nil {
		err = proxy.Attach(ctx, cmd)
	} else {
		err = cmd.Wait()
	}
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return fmt.Errorf("Program exited with non-zero exit code: %d", exitErr.ExitCode())
		}
		return err
	}
	return closer.Close()
}
