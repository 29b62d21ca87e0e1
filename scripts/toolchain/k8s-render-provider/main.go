// pulumi-resource-kubernetes (render-only stand-in), written for this project.
//
// Why it exists: the Go module proxy reachable here refuses every version of
// github.com/pulumi/pulumi-kubernetes/provider/v4 (403 "This module version is not available"), so the real
// provider cannot be built on this machine. This plugin speaks the same ResourceProvider gRPC protocol for the one
// mode this project uses locally: a Provider with `renderYamlToDirectory`. It never talks to a cluster.
//
//   - Configure reads renderYamlToDirectory (from the Provider's args or `kubernetes:renderYamlToDirectory`).
//   - Check fills metadata.name from the resource name plus a random suffix when it is missing (auto-naming).
//   - Create/Update write one YAML file per object, laid out as the real provider does:
//     <dir>/1-manifest/<apiVersion>-<kind>-<namespace>-<name>.yaml (CRDs under <dir>/0-crd/), "/" → "_".
//     Preview writes nothing. Secret values are written in plain text, as the real provider does when rendering.
//   - Delete removes the file. Diff compares inputs; a change of apiVersion, kind, name or namespace replaces.
//
// Anything else (Invoke, Construct, Call, cluster mode) answers "unimplemented" or a clear error.
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
	mu        sync.Mutex
	renderDir string
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
	p.mu.Lock()
	p.renderDir = dir
	p.mu.Unlock()
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (p *provider) dir() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.renderDir == "" {
		return "", fmt.Errorf("this kubernetes provider build only renders manifests: set renderYamlToDirectory " +
			"on the Provider (the real provider could not be built on this machine)")
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
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *provider) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
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
