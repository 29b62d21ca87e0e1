// pulumi-resource-kubernetes (stand-in: render mode and cluster mode), written for this project.
//
// Why it exists: the Go module proxy reachable here refuses every version of
// github.com/pulumi/pulumi-kubernetes/provider/v4 (403 "This module version is not available"), so the real
// provider cannot be built on this machine. This plugin speaks the same ResourceProvider gRPC protocol for the two
// modes this project uses locally: render mode, a Provider with `renderYamlToDirectory` (this file), which never
// talks to a cluster; and cluster mode (cluster.go), when a kubeconfig is given and renderYamlToDirectory is not:
// server-side apply to a real API server, no readiness waits (the e2e tests run against a loopback kube-apiserver).
//
//   - Configure reads renderYamlToDirectory (from the Provider's args or `kubernetes:renderYamlToDirectory`), and
//     kubeconfig / context (args, `kubernetes:kubeconfig` / `kubernetes:context`, else the KUBECONFIG env var).
//   - Check fills metadata.name from the resource name plus a random suffix when it is missing (auto-naming).
//   - Create/Update write one YAML file per object, laid out as the real provider does:
//     <dir>/1-manifest/<apiVersion>-<kind>-<namespace>-<name>.yaml (CRDs under <dir>/0-crd/), "/" → "_".
//     Preview writes nothing. Secret values are written in plain text, as the real provider does when rendering.
//   - Delete removes the file. Diff compares inputs; a change of apiVersion, kind, name or namespace replaces.
//
// In cluster mode Create/Update/Read/Delete go to the API server instead (see cluster.go); Check and Diff are shared.
// Anything else (Invoke, Construct, Call) answers "unimplemented" or a clear error.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"gopkg.in/yaml.v3"
)

// Version is set with -ldflags -X main.Version=… to the @pulumi/kubernetes version it stands in for.
var Version = "0.0.0"

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer
	mu         sync.Mutex
	renderDir  string
	cluster    *cluster // cluster mode: set when a kubeconfig is given and renderDir is not
	clusterErr error    // a kubeconfig was given but could not be loaded
}

func main() {
	p := &provider{}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, p)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "fatal: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "fatal: %v\n", err)
		os.Exit(1)
	}
}

var (
	keepAll  = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true, SkipNulls: true}
	plainOpt = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: false, SkipNulls: true}
)

func (p *provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

func (p *provider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: `{"name":"kubernetes","version":"` + Version + `"}`}, nil
}

func (p *provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *provider) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return diff(req.GetOldInputs(), req.GetOlds(), req.GetNews(), nil)
}

func (p *provider) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	dir := ""
	if args := req.GetArgs(); args != nil {
		if v, ok := args.GetFields()["renderYamlToDirectory"]; ok {
			dir = v.GetStringValue()
		}
	}
	if dir == "" {
		for _, k := range []string{"kubernetes:config:renderYamlToDirectory", "kubernetes:renderYamlToDirectory"} {
			if v := req.GetVariables()[k]; v != "" {
				dir = v
			}
		}
	}
	var cl *cluster
	var clErr error
	if dir == "" {
		if kubeconfig, context := clusterSettings(req); kubeconfig != "" {
			cl, clErr = newCluster(kubeconfig, context)
		}
	}
	p.mu.Lock()
	p.renderDir = dir
	p.cluster, p.clusterErr = cl, clErr
	p.mu.Unlock()
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

// clusterSettings reads kubeconfig and context from the Provider's args, the `kubernetes:` config, or KUBECONFIG.
func clusterSettings(req *pulumirpc.ConfigureRequest) (kubeconfig, context string) {
	args, _ := plugin.UnmarshalProperties(req.GetArgs(), plainOpt)
	get := func(key string) string {
		if v, ok := args[resource.PropertyKey(key)]; ok && v.IsString() && v.StringValue() != "" {
			return v.StringValue()
		}
		for _, k := range []string{"kubernetes:config:" + key, "kubernetes:" + key} {
			if v := req.GetVariables()[k]; v != "" {
				return v
			}
		}
		return ""
	}
	kubeconfig, context = get("kubeconfig"), get("context")
	if kubeconfig == "" {
		kubeconfig = strings.Split(os.Getenv("KUBECONFIG"), string(os.PathListSeparator))[0]
	}
	return kubeconfig, context
}

// clusterMode returns the API server client when the provider is in cluster mode.
func (p *provider) clusterMode() (*cluster, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.renderDir != "" {
		return nil, nil
	}
	return p.cluster, p.clusterErr
}

func (p *provider) dir() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.renderDir == "" {
		return "", fmt.Errorf("this kubernetes provider build only renders manifests or applies to the cluster of a " +
			"kubeconfig: set renderYamlToDirectory or kubeconfig on the Provider (the real provider could not be " +
			"built on this machine)")
	}
	return p.renderDir, nil
}

func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := plugin.UnmarshalProperties(req.GetNews(), keepAll)
	if err != nil {
		return nil, err
	}
	meta := resource.PropertyMap{}
	if m, ok := news["metadata"]; ok && m.IsObject() {
		meta = m.ObjectValue()
	}
	if n, ok := meta["name"]; !ok || n.IsNull() {
		// Keep a previous auto-name; otherwise derive one from the resource name and the engine's seed.
		name := ""
		if olds, err := plugin.UnmarshalProperties(req.GetOlds(), keepAll); err == nil {
			if om, ok := olds["metadata"]; ok && om.IsObject() {
				if on, ok := om.ObjectValue()["name"]; ok && on.IsString() {
					name = on.StringValue()
				}
			}
		}
		if name == "" {
			base := req.GetName()
			if base == "" {
				base = resource.URN(req.GetUrn()).Name()
			}
			sum := sha256.Sum256(append([]byte(req.GetUrn()), req.GetRandomSeed()...))
			name = strings.ToLower(base) + "-" + hex.EncodeToString(sum[:])[:8]
		}
		meta["name"] = resource.NewProperty(name)
		ann := resource.PropertyMap{}
		if a, ok := meta["annotations"]; ok && a.IsObject() {
			ann = a.ObjectValue()
		}
		ann["pulumi.com/autonamed"] = resource.NewProperty("true")
		meta["annotations"] = resource.NewProperty(ann)
		news["metadata"] = resource.NewProperty(meta)
	}
	inputs, err := plugin.MarshalProperties(news, keepAll)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs}, nil
}

func diff(oldInputs, olds, news *structpb.Struct, ignore []string) (*pulumirpc.DiffResponse, error) {
	if oldInputs == nil || len(oldInputs.GetFields()) == 0 {
		oldInputs = olds
	}
	o, err := plugin.UnmarshalProperties(oldInputs, keepAll)
	if err != nil {
		return nil, err
	}
	n, err := plugin.UnmarshalProperties(news, keepAll)
	if err != nil {
		return nil, err
	}
	for _, k := range ignore {
		delete(o, resource.PropertyKey(k))
		delete(n, resource.PropertyKey(k))
	}
	d := o.Diff(n)
	if d == nil || !d.AnyChanges() {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	var diffs, replaces []string
	for _, k := range d.ChangedKeys() {
		diffs = append(diffs, string(k))
	}
	sort.Strings(diffs)
	for _, k := range []string{"apiVersion", "kind"} {
		if d.Changed(resource.PropertyKey(k)) {
			replaces = append(replaces, k)
		}
	}
	if d.Changed("metadata") {
		om, nm := o["metadata"], n["metadata"]
		if om.IsObject() && nm.IsObject() {
			for _, k := range []resource.PropertyKey{"name", "namespace"} {
				if !om.ObjectValue()[k].DeepEquals(nm.ObjectValue()[k]) {
					replaces = append(replaces, "metadata."+string(k))
				}
			}
		}
	}
	return &pulumirpc.DiffResponse{
		Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: diffs, Replaces: replaces,
		DeleteBeforeReplace: len(replaces) > 0,
	}, nil
}

func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return diff(req.GetOldInputs(), req.GetOlds(), req.GetNews(), req.GetIgnoreChanges())
}

// object turns the resource inputs into a plain Kubernetes object (secrets unwrapped).
func object(props *structpb.Struct) (map[string]any, error) {
	pm, err := plugin.UnmarshalProperties(props, plainOpt)
	if err != nil {
		return nil, err
	}
	return pm.Mappable(), nil
}

func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	s, _ := cur.(string)
	return s
}

func renderPath(dir string, obj map[string]any) string {
	ns := str(obj, "metadata", "namespace")
	if ns == "" {
		ns = "default"
	}
	file := strings.ToLower(fmt.Sprintf("%s-%s-%s-%s.yaml",
		str(obj, "apiVersion"), str(obj, "kind"), ns, str(obj, "metadata", "name")))
	file = strings.NewReplacer("/", "_", ":", "_").Replace(file)
	sub := "1-manifest"
	if str(obj, "kind") == "CustomResourceDefinition" {
		sub = "0-crd"
	}
	return filepath.Join(dir, sub, file)
}

func objectID(obj map[string]any) string {
	ns := str(obj, "metadata", "namespace")
	if ns == "" {
		return str(obj, "metadata", "name")
	}
	return ns + "/" + str(obj, "metadata", "name")
}

func (p *provider) write(props *structpb.Struct) (string, error) {
	dir, err := p.dir()
	if err != nil {
		return "", err
	}
	obj, err := object(props)
	if err != nil {
		return "", err
	}
	path := renderPath(dir, obj)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(obj); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	return objectID(obj), nil
}

func (p *provider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if cl, err := p.clusterMode(); err != nil {
		return nil, err
	} else if cl != nil && !req.GetPreview() {
		obj, err := object(req.GetProperties())
		if err != nil {
			return nil, err
		}
		live, err := cl.apply(obj)
		if err != nil {
			return nil, err
		}
		props, err := liveProperties(live)
		if err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Id: objectID(obj), Properties: props}, nil
	}
	if req.GetPreview() {
		obj, err := object(req.GetProperties())
		if err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Id: objectID(obj), Properties: req.GetProperties()}, nil
	}
	id, err := p.write(req.GetProperties())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: req.GetProperties()}, nil
}

func (p *provider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if cl, err := p.clusterMode(); err != nil {
		return nil, err
	} else if cl != nil && !req.GetPreview() {
		obj, err := object(req.GetNews())
		if err != nil {
			return nil, err
		}
		live, err := cl.apply(obj)
		if err != nil {
			return nil, err
		}
		props, err := liveProperties(live)
		if err != nil {
			return nil, err
		}
		return &pulumirpc.UpdateResponse{Properties: props}, nil
	}
	if !req.GetPreview() {
		if old, err := object(req.GetOlds()); err == nil {
			if dir, err := p.dir(); err == nil {
				_ = os.Remove(renderPath(dir, old))
			}
		}
		if _, err := p.write(req.GetNews()); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.UpdateResponse{Properties: req.GetNews()}, nil
}

func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if cl, err := p.clusterMode(); err != nil {
		return nil, err
	} else if cl != nil {
		obj, err := object(req.GetProperties())
		if err != nil {
			return nil, err
		}
		if str(obj, "metadata", "name") == "" { // import by ID only: not supported by the stand-in
			return nil, fmt.Errorf("the stand-in provider reads objects from their state only (no import by ID)")
		}
		live, err := cl.get(obj)
		if err != nil {
			return nil, err
		}
		if live == nil {
			return &pulumirpc.ReadResponse{}, nil // gone
		}
		props, err := liveProperties(live)
		if err != nil {
			return nil, err
		}
		return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: props, Inputs: req.GetInputs()}, nil
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *provider) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if cl, err := p.clusterMode(); err != nil {
		return nil, err
	} else if cl != nil {
		obj, err := object(req.GetProperties())
		if err != nil {
			return nil, err
		}
		return &emptypb.Empty{}, cl.delete(obj)
	}
	dir, err := p.dir()
	if err != nil {
		return &emptypb.Empty{}, nil // nothing was ever written by this provider
	}
	obj, err := object(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if err := os.Remove(renderPath(dir, obj)); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func (p *provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// liveProperties turns the live object into resource outputs; a Secret's data stays secret in the state.
func liveProperties(live map[string]any) (*structpb.Struct, error) {
	pm := resource.NewPropertyMapFromMap(live)
	if str(live, "kind") == "Secret" && str(live, "apiVersion") == "v1" {
		for _, k := range []resource.PropertyKey{"data", "stringData"} {
			if v, ok := pm[k]; ok {
				pm[k] = resource.MakeSecret(v)
			}
		}
	}
	return plugin.MarshalProperties(pm, keepAll)
}
