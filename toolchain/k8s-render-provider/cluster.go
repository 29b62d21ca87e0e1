// Cluster mode of the stand-in provider: apply objects to a real Kubernetes API server.
//
// Used when a kubeconfig is given (the Provider's `kubeconfig` arg, `kubernetes:kubeconfig` config, or the
// KUBECONFIG env var) and renderYamlToDirectory is not. Plain net/http with the kubeconfig's credentials
// (client certificate, bearer token, CA), no client-go:
//
//   - Create/Update: server-side apply, `PATCH <object URL>?fieldManager=pulumi-kubernetes&force=true&
//     fieldValidation=Strict` with `Content-Type: application/apply-patch+yaml` (the body is JSON, which is YAML).
//     A non-2xx answer fails the step with the API server's Status message, verbatim.
//   - Read: GET (404: the object is gone). Delete: DELETE with propagationPolicy=Background (404 is success).
//     Nothing waits for deletion: a Namespace stays Terminating on a cluster without controllers.
//   - Preview: no request (the planned outputs are the inputs).
//   - Outputs: the live object the server returned, without metadata.managedFields.
//   - Readiness: never awaited, so `pulumi.com/skipAwait: "true"` holds trivially (the real provider waits for
//     Deployments, Services, Jobs, Pods, StatefulSets and Ingresses unless that annotation is set).
//
// Resource URLs come from discovery (GET /api/v1 or /apis/<group>/<version>), cached per group version and
// refetched when a kind is missing (a CRD applied a moment ago), for up to discoveryWait.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	fieldManager  = "pulumi-kubernetes"
	discoveryWait = 30 * time.Second
)

type kubeconfigFile struct {
	CurrentContext string `yaml:"current-context"`
	Clusters       []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server                   string `yaml:"server"`
			CertificateAuthority     string `yaml:"certificate-authority"`
			CertificateAuthorityData string `yaml:"certificate-authority-data"`
			InsecureSkipTLSVerify    bool   `yaml:"insecure-skip-tls-verify"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		Name string `yaml:"name"`
		User struct {
			ClientCertificate     string `yaml:"client-certificate"`
			ClientCertificateData string `yaml:"client-certificate-data"`
			ClientKey             string `yaml:"client-key"`
			ClientKeyData         string `yaml:"client-key-data"`
			Token                 string `yaml:"token"`
		} `yaml:"user"`
	} `yaml:"users"`
	Contexts []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster string `yaml:"cluster"`
			User    string `yaml:"user"`
		} `yaml:"context"`
	} `yaml:"contexts"`
}

// cluster talks to one API server.
type cluster struct {
	server string
	token  string
	http   *http.Client

	mu        sync.Mutex
	resources map[string]map[string]apiResource // groupVersion -> kind -> resource
}

type apiResource struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Namespaced bool   `json:"namespaced"`
}

// kubeconfigSource is either kubeconfig text (YAML/JSON) or a path to a file, as the real provider accepts.
func newCluster(source, context string) (*cluster, error) {
	text := []byte(source)
	base := ""
	if t := strings.TrimSpace(source); !strings.Contains(t, "\n") && !strings.HasPrefix(t, "{") {
		path := source
		if strings.HasPrefix(path, "~/") {
			home, _ := os.UserHomeDir()
			path = filepath.Join(home, path[2:])
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading kubeconfig: %w", err)
		}
		text, base = b, filepath.Dir(path)
	}
	var kc kubeconfigFile
	if err := yaml.Unmarshal(text, &kc); err != nil {
		return nil, fmt.Errorf("parsing kubeconfig: %w", err)
	}
	if context == "" {
		context = kc.CurrentContext
	}
	var clusterName, userName string
	for _, c := range kc.Contexts {
		if c.Name == context {
			clusterName, userName = c.Context.Cluster, c.Context.User
		}
	}
	if clusterName == "" && len(kc.Contexts) == 0 && len(kc.Clusters) == 1 {
		clusterName = kc.Clusters[0].Name
	}
	file := func(data, path string) ([]byte, error) {
		if data != "" {
			return base64.StdEncoding.DecodeString(data)
		}
		if path == "" {
			return nil, nil
		}
		if !filepath.IsAbs(path) && base != "" {
			path = filepath.Join(base, path)
		}
		return os.ReadFile(path)
	}
	c := &cluster{resources: map[string]map[string]apiResource{}}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	found := false
	for _, cl := range kc.Clusters {
		if cl.Name != clusterName {
			continue
		}
		found = true
		c.server = strings.TrimRight(cl.Cluster.Server, "/")
		tlsConfig.InsecureSkipVerify = cl.Cluster.InsecureSkipTLSVerify
		ca, err := file(cl.Cluster.CertificateAuthorityData, cl.Cluster.CertificateAuthority)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig CA: %w", err)
		}
		if len(ca) > 0 {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(ca) {
				return nil, fmt.Errorf("kubeconfig CA: no PEM certificate")
			}
			tlsConfig.RootCAs = pool
		}
	}
	if !found || c.server == "" {
		return nil, fmt.Errorf("kubeconfig: no cluster for context %q", context)
	}
	for _, u := range kc.Users {
		if u.Name != userName {
			continue
		}
		c.token = u.User.Token
		cert, err := file(u.User.ClientCertificateData, u.User.ClientCertificate)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig client certificate: %w", err)
		}
		key, err := file(u.User.ClientKeyData, u.User.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig client key: %w", err)
		}
		if len(cert) > 0 && len(key) > 0 {
			pair, err := tls.X509KeyPair(cert, key)
			if err != nil {
				return nil, fmt.Errorf("kubeconfig client certificate: %w", err)
			}
			tlsConfig.Certificates = []tls.Certificate{pair}
		}
	}
	c.http = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	return c, nil
}

// apiError is a non-2xx answer; Error() is the server's Status message, verbatim.
type apiError struct {
	Code    int
	Reason  string
	Message string
}

func (e *apiError) Error() string { return e.Message }

func (c *cluster) do(method, path string, query url.Values, contentType string, body []byte) (map[string]any, error) {
	u := c.server + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if resp.StatusCode/100 != 2 {
		e := &apiError{Code: resp.StatusCode, Message: strings.TrimSpace(string(raw))}
		if out != nil && out["kind"] == "Status" {
			if m, ok := out["message"].(string); ok {
				e.Message = m
			}
			e.Reason, _ = out["reason"].(string)
		}
		if e.Message == "" {
			e.Message = resp.Status
		}
		return nil, e
	}
	return out, nil
}

// resourceFor finds the plural name and scope of apiVersion/kind by discovery.
func (c *cluster) resourceFor(apiVersion, kind string) (apiResource, error) {
	deadline := time.Now().Add(discoveryWait)
	for {
		c.mu.Lock()
		r, ok := c.resources[apiVersion][kind]
		c.mu.Unlock()
		if ok {
			return r, nil
		}
		path := "/apis/" + apiVersion
		if apiVersion == "v1" {
			path = "/api/v1"
		}
		list, err := c.do(http.MethodGet, path, nil, "", nil)
		var ae *apiError
		if err != nil && !(asAPIError(err, &ae) && ae.Code == http.StatusNotFound) {
			return apiResource{}, err
		}
		if list != nil {
			byKind := map[string]apiResource{}
			b, _ := json.Marshal(list["resources"])
			var rs []apiResource
			_ = json.Unmarshal(b, &rs)
			for _, r := range rs {
				if !strings.Contains(r.Name, "/") {
					byKind[r.Kind] = r
				}
			}
			c.mu.Lock()
			c.resources[apiVersion] = byKind
			c.mu.Unlock()
			if r, ok := byKind[kind]; ok {
				return r, nil
			}
		}
		if time.Now().After(deadline) {
			return apiResource{}, fmt.Errorf("the API server does not serve kind %q in %q (is its CRD installed?)", kind, apiVersion)
		}
		time.Sleep(time.Second)
	}
}

func asAPIError(err error, target **apiError) bool {
	ae, ok := err.(*apiError)
	if ok {
		*target = ae
	}
	return ok
}

// objectPath is the URL path of one object.
func (c *cluster) objectPath(obj map[string]any) (string, error) {
	apiVersion, kind, name := str(obj, "apiVersion"), str(obj, "kind"), str(obj, "metadata", "name")
	if apiVersion == "" || kind == "" || name == "" {
		return "", fmt.Errorf("object needs apiVersion, kind and metadata.name (got %q, %q, %q)", apiVersion, kind, name)
	}
	r, err := c.resourceFor(apiVersion, kind)
	if err != nil {
		return "", err
	}
	prefix := "/apis/" + apiVersion
	if apiVersion == "v1" {
		prefix = "/api/v1"
	}
	if r.Namespaced {
		ns := str(obj, "metadata", "namespace")
		if ns == "" {
			ns = "default"
		}
		return fmt.Sprintf("%s/namespaces/%s/%s/%s", prefix, url.PathEscape(ns), r.Name, url.PathEscape(name)), nil
	}
	return fmt.Sprintf("%s/%s/%s", prefix, r.Name, url.PathEscape(name)), nil
}

// apply does a server-side apply of obj and returns the live object.
func (c *cluster) apply(obj map[string]any) (map[string]any, error) {
	path, err := c.objectPath(obj)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	q := url.Values{"fieldManager": {fieldManager}, "force": {"true"}, "fieldValidation": {"Strict"}}
	live, err := c.do(http.MethodPatch, path, q, "application/apply-patch+yaml", body)
	if err != nil {
		return nil, err
	}
	return trimLive(live), nil
}

// get returns the live object, or nil when it does not exist.
func (c *cluster) get(obj map[string]any) (map[string]any, error) {
	path, err := c.objectPath(obj)
	if err != nil {
		return nil, err
	}
	live, err := c.do(http.MethodGet, path, nil, "", nil)
	var ae *apiError
	if err != nil && asAPIError(err, &ae) && ae.Code == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return trimLive(live), nil
}

func (c *cluster) delete(obj map[string]any) error {
	path, err := c.objectPath(obj)
	if err != nil {
		return err
	}
	body := []byte(`{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}`)
	_, err = c.do(http.MethodDelete, path, nil, "application/json", body)
	var ae *apiError
	if err != nil && asAPIError(err, &ae) && ae.Code == http.StatusNotFound {
		return nil
	}
	return err
}

func trimLive(live map[string]any) map[string]any {
	if m, ok := live["metadata"].(map[string]any); ok {
		delete(m, "managedFields")
	}
	return live
}
