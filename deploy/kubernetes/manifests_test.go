package kubernetes_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/trainwatch/trainwatch/internal/bytesize"
	"github.com/trainwatch/trainwatch/internal/config"
	"github.com/trainwatch/trainwatch/internal/testenv"
)

// The names every manifest uses.
const (
	appName       = "trainwatch"
	namespaceName = "trainwatch"
	containerName = "trainwatch"
	metricsPort   = 9835
	imagePrefix   = "ghcr.io/trainwatch/trainwatch:"
)

// object is what every manifest decodes into: a Kubernetes API object with
// type and object metadata.
type object interface {
	runtime.Object
	metav1.Object
}

// manifest is one file of the directory and the API type it must decode
// into.
type manifest struct {
	file       string
	apiVersion string
	kind       string
	namespaced bool
	newObject  func() object
}

// manifests lists every manifest but kustomization.yaml, which is not an API
// object (see TestKustomizationListsEveryManifest).
var manifests = []manifest{
	{"namespace.yaml", "v1", "Namespace", false, func() object { return &corev1.Namespace{} }},
	{"rbac.yaml", "v1", "ServiceAccount", true, func() object { return &corev1.ServiceAccount{} }},
	{"configmap.yaml", "v1", "ConfigMap", true, func() object { return &corev1.ConfigMap{} }},
	{"daemonset.yaml", "apps/v1", "DaemonSet", true, func() object { return &appsv1.DaemonSet{} }},
	{"service.yaml", "v1", "Service", true, func() object { return &corev1.Service{} }},
	{"servicemonitor.yaml", "monitoring.coreos.com/v1", "ServiceMonitor", true, func() object { return &monitoringv1.ServiceMonitor{} }},
}

// documentSeparator splits a YAML stream into documents.
var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// documentCount counts the documents of a YAML stream that hold more than
// comments and blank lines.
func documentCount(data []byte) int {
	n := 0
	for _, doc := range documentSeparator.Split(string(data), -1) {
		for line := range strings.SplitSeq(doc, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				n++
				break
			}
		}
	}
	return n
}

// decodeStrict decodes one YAML document into v as the API server's strict
// field validation does: the YAML is converted to JSON (a duplicate key is an
// error) and decoded with sigs.k8s.io/json, the Kubernetes decoder, which
// matches field names case-sensitively (encoding/json would take hostPid for
// hostPID) and reports unknown fields. A file must hold exactly one
// document.
func decodeStrict(data []byte, v any) error {
	if n := documentCount(data); n != 1 {
		return fmt.Errorf("want exactly one YAML document, found %d", n)
	}
	js, err := sigsyaml.YAMLToJSONStrict(data)
	if err != nil {
		return fmt.Errorf("YAML: %w", err)
	}
	strictErrs, err := kjson.UnmarshalStrict(js, v, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	if len(strictErrs) > 0 {
		return fmt.Errorf("strict decoding: %w", errors.Join(strictErrs...))
	}
	return nil
}

// decodeFile reads and strictly decodes one manifest.
func decodeFile(t *testing.T, m manifest) object {
	t.Helper()
	data, err := os.ReadFile(m.file)
	if err != nil {
		t.Fatal(err)
	}
	obj := m.newObject()
	if err := decodeStrict(data, obj); err != nil {
		t.Fatalf("%s: %v", m.file, err)
	}
	return obj
}

// bundle is every manifest, decoded.
type bundle struct {
	ns  *corev1.Namespace
	sa  *corev1.ServiceAccount
	cm  *corev1.ConfigMap
	ds  *appsv1.DaemonSet
	svc *corev1.Service
	sm  *monitoringv1.ServiceMonitor
}

// load decodes every manifest.
func load(t *testing.T) bundle {
	t.Helper()
	var b bundle
	for _, m := range manifests {
		switch o := decodeFile(t, m).(type) {
		case *corev1.Namespace:
			b.ns = o
		case *corev1.ServiceAccount:
			b.sa = o
		case *corev1.ConfigMap:
			b.cm = o
		case *appsv1.DaemonSet:
			b.ds = o
		case *corev1.Service:
			b.svc = o
		case *monitoringv1.ServiceMonitor:
			b.sm = o
		default:
			t.Fatalf("%s: unexpected type %T", m.file, o)
		}
	}
	return b
}

// agentContainer returns the DaemonSet's trainwatch container.
func agentContainer(t *testing.T, ds *appsv1.DaemonSet) *corev1.Container {
	t.Helper()
	cs := ds.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != containerName {
		t.Fatalf("want one container named %q, got %d", containerName, len(cs))
	}
	return &cs[0]
}

// flagValue returns the value of --name in args ("--name=value" or
// "--name value"); the last occurrence wins, as with pflag.
func flagValue(args []string, name string) (string, bool) {
	val, found := "", false
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "--"+name+"="):
			val, found = strings.TrimPrefix(a, "--"+name+"="), true
		case a == "--"+name && i+1 < len(args):
			val, found = args[i+1], true
		}
	}
	return val, found
}

// requireFlag is flagValue that fails the test when the flag is absent.
func requireFlag(t *testing.T, c *corev1.Container, name string) string {
	t.Helper()
	v, ok := flagValue(c.Args, name)
	if !ok {
		t.Fatalf("container args %q lack --%s", c.Args, name)
	}
	return v
}

// containerPort returns the number of the container's port called name.
func containerPort(t *testing.T, c *corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container has no port named %q", name)
	return 0
}

// envValue returns the literal value of the container's variable name.
func envValue(c *corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

// mountAt returns the container's volume mount at path and its volume.
func mountAt(t *testing.T, ds *appsv1.DaemonSet, c *corev1.Container, path string) (corev1.VolumeMount, corev1.Volume) {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if filepath.Clean(m.MountPath) != filepath.Clean(path) {
			continue
		}
		for _, v := range ds.Spec.Template.Spec.Volumes {
			if v.Name == m.Name {
				return m, v
			}
		}
		t.Fatalf("volume mount %q at %s names no volume", m.Name, path)
	}
	t.Fatalf("nothing is mounted at %s", path)
	return corev1.VolumeMount{}, corev1.Volume{}
}

// configKey returns the ConfigMap key that the container's --config names,
// after checking that the ConfigMap is mounted where --config points.
func configKey(t *testing.T, b bundle, c *corev1.Container) string {
	t.Helper()
	path := requireFlag(t, c, "config")
	m, v := mountAt(t, b.ds, c, filepath.Dir(path))
	if v.ConfigMap == nil || v.ConfigMap.Name != b.cm.Name {
		t.Fatalf("%s is not the ConfigMap %q", m.MountPath, b.cm.Name)
	}
	if !m.ReadOnly {
		t.Errorf("configuration mount %s is writable", m.MountPath)
	}
	key := filepath.Base(path)
	if _, ok := b.cm.Data[key]; !ok {
		t.Fatalf("--config=%s: ConfigMap %q has no key %q", path, b.cm.Name, key)
	}
	return key
}

// loadAgentConfig loads the ConfigMap's configuration file with trainwatch's
// own loader and applies the container's flags as `trainwatch serve` does.
func loadAgentConfig(t *testing.T, b bundle, c *corev1.Container) config.Config {
	t.Helper()
	key := configKey(t, b, c)
	path := filepath.Join(t.TempDir(), key)
	if err := os.WriteFile(path, []byte(b.cm.Data[key]), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("ConfigMap %s: %v", key, err)
	}
	if v, ok := flagValue(c.Args, "listen"); ok {
		cfg.Listen = v
	}
	if v, ok := flagValue(c.Args, "data-dir"); ok {
		cfg.DataDir = v
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("configuration with the container's flags: %v", err)
	}
	return cfg
}

// hostRoot is one of the agent's host roots and the host path the
// DaemonSet must mount there.
type hostRoot struct {
	key, root, hostPath string
}

// hostRoots returns the configuration's roots with the host directory each
// must show.
func hostRoots(cfg config.Config) []hostRoot {
	r := cfg.Host.Roots.WithDefaults()
	return []hostRoot{
		{"host.roots.proc", r.Proc, "/proc"},
		{"host.roots.sys", r.Sys, "/sys"},
		{"host.roots.rootfs", r.RootFS, "/"},
	}
}

func TestManifestsDecodeStrictly(t *testing.T) {
	for _, m := range manifests {
		t.Run(m.file, func(t *testing.T) {
			obj := decodeFile(t, m)
			gvk := obj.GetObjectKind().GroupVersionKind()
			if got := gvk.GroupVersion().String(); got != m.apiVersion || gvk.Kind != m.kind {
				t.Errorf("apiVersion/kind = %s/%s, want %s/%s", got, gvk.Kind, m.apiVersion, m.kind)
			}
			if obj.GetName() != appName {
				t.Errorf("name = %q, want %q", obj.GetName(), appName)
			}
			wantNS := ""
			if m.namespaced {
				wantNS = namespaceName
			}
			if obj.GetNamespace() != wantNS {
				t.Errorf("namespace = %q, want %q", obj.GetNamespace(), wantNS)
			}
			if got := obj.GetLabels()["app.kubernetes.io/name"]; got != appName {
				t.Errorf("label app.kubernetes.io/name = %q, want %q", got, appName)
			}
		})
	}
}

// TestStrictDecodingRejectsMistakes makes sure the decoding above would
// catch a misspelt field, so that the other tests do not pass on a manifest
// the API server would reject or silently misread.
func TestStrictDecodingRejectsMistakes(t *testing.T) {
	tests := []struct {
		name, file, old, new string
	}{
		{"misspelt pod field", "daemonset.yaml", "hostPID: true", "hostPid: true"},
		{"misspelt container field", "daemonset.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"},
		{"field at the wrong level", "daemonset.yaml", "      hostNetwork: true", "      hostNetwork: true\n      readOnlyRootFilesystem: true"},
		{"duplicate field", "service.yaml", "  clusterIP: None", "  clusterIP: None\n  clusterIP: None"},
		{"wrong type", "daemonset.yaml", "containerPort: 9835", "containerPort: nine"},
		{"second document", "rbac.yaml", "automountServiceAccountToken: false", "automountServiceAccountToken: false\n---\nkind: ClusterRole"},
		{"misspelt ServiceMonitor field", "servicemonitor.yaml", "honorLabels: true", "honourLabels: true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := slices.IndexFunc(manifests, func(m manifest) bool { return m.file == tt.file })
			data, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if err := decodeStrict(data, manifests[i].newObject()); err != nil {
				t.Fatalf("unchanged %s: %v", tt.file, err)
			}
			if !bytes.Contains(data, []byte(tt.old)) {
				t.Fatalf("%s does not contain %q any more; update the test", tt.file, tt.old)
			}
			bad := bytes.Replace(data, []byte(tt.old), []byte(tt.new), 1)
			if err := decodeStrict(bad, manifests[i].newObject()); err == nil {
				t.Errorf("%s with %q decoded without error", tt.file, tt.new)
			}
		})
	}
}

// kustomization mirrors the fields of kustomize's Kustomization that
// kustomization.yaml uses; strict decoding rejects any other.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	data, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := decodeStrict(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("apiVersion/kind = %s/%s", k.APIVersion, k.Kind)
	}
	if k.Namespace != namespaceName {
		t.Errorf("namespace = %q, want %q", k.Namespace, namespaceName)
	}
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = slices.DeleteFunc(files, func(f string) bool { return f == "kustomization.yaml" })
	var listed []string
	for _, m := range manifests {
		listed = append(listed, m.file)
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, slices.Sorted(slices.Values(files))) {
		t.Errorf("kustomization resources = %q, want every manifest of the directory %q", got, files)
	}
	if !slices.Equal(got, slices.Sorted(slices.Values(listed))) {
		t.Errorf("kustomization resources = %q, but the test decodes %q", got, listed)
	}
	if !slices.Equal(k.Resources[:1], []string{"namespace.yaml"}) {
		t.Errorf("the namespace should come first, got %q", k.Resources)
	}
}

// TestKustomizeBuild renders the directory with kubectl's kustomize
// (skipped without kubectl, failed under CI=true; the other tests do not
// need it).
func TestKustomizeBuild(t *testing.T) {
	kubectl := testenv.LookPath(t, "kubectl")
	out, err := exec.Command(kubectl, "kustomize", ".").Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	var kinds []string
	for _, doc := range documentSeparator.Split(string(out), -1) {
		var meta metav1.TypeMeta
		if err := sigsyaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("kustomize output: %v", err)
		}
		if meta.Kind != "" {
			kinds = append(kinds, meta.Kind)
		}
	}
	var want []string
	for _, m := range manifests {
		want = append(want, m.kind)
	}
	if !slices.Equal(slices.Sorted(slices.Values(kinds)), slices.Sorted(slices.Values(want))) {
		t.Errorf("kustomize rendered %q, want %q", kinds, want)
	}
}

func TestNamespaceAllowsHostAccess(t *testing.T) {
	b := load(t)
	// hostPID, hostNetwork and hostPath volumes are refused below the
	// "privileged" Pod Security Standard.
	if got := b.ns.Labels["pod-security.kubernetes.io/enforce"]; got != "privileged" {
		t.Errorf("pod-security.kubernetes.io/enforce = %q, want privileged", got)
	}
}

func TestServiceAccountHasNoToken(t *testing.T) {
	b := load(t)
	pod := b.ds.Spec.Template.Spec
	if pod.ServiceAccountName != b.sa.Name {
		t.Errorf("serviceAccountName = %q, want %q", pod.ServiceAccountName, b.sa.Name)
	}
	if b.sa.AutomountServiceAccountToken == nil || *b.sa.AutomountServiceAccountToken {
		t.Error("ServiceAccount: automountServiceAccountToken should be false")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("pod: automountServiceAccountToken should be false")
	}
}

func TestDaemonSetRunsOnGPUNodes(t *testing.T) {
	b := load(t)
	pod := b.ds.Spec.Template.Spec
	if got := pod.NodeSelector["nvidia.com/gpu.present"]; got != "true" {
		t.Errorf(`nodeSelector nvidia.com/gpu.present = %q, want "true"`, got)
	}
	tolerated := slices.ContainsFunc(pod.Tolerations, func(tol corev1.Toleration) bool {
		return tol.Key == "nvidia.com/gpu" && tol.Operator == corev1.TolerationOpExists &&
			(tol.Effect == "" || tol.Effect == corev1.TaintEffectNoSchedule)
	})
	if !tolerated {
		t.Errorf("no toleration of the nvidia.com/gpu NoSchedule taint: %+v", pod.Tolerations)
	}
	if pod.RuntimeClassName == nil || *pod.RuntimeClassName != "nvidia" {
		t.Errorf("runtimeClassName = %v, want nvidia", pod.RuntimeClassName)
	}
	c := agentContainer(t, b.ds)
	for name, want := range map[string]string{"NVIDIA_VISIBLE_DEVICES": "all", "NVIDIA_DRIVER_CAPABILITIES": "utility"} {
		if e, ok := envValue(c, name); !ok || e.Value != want {
			t.Errorf("env %s = %q, want %q", name, e.Value, want)
		}
	}
	if e, ok := envValue(c, "NODE_NAME"); !ok || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("env NODE_NAME should come from spec.nodeName (the GPU series' Hostname label), got %+v", e)
	}
	for _, rl := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
		if _, ok := rl["nvidia.com/gpu"]; ok {
			t.Error("the agent must not request nvidia.com/gpu: that would take a GPU from training jobs")
		}
	}
	if !strings.HasPrefix(c.Image, imagePrefix) || !strings.Contains(c.Image, "VERSION") {
		t.Errorf("image = %q, want the placeholder %sVERSION", c.Image, imagePrefix)
	}
}

func TestDaemonSetUsesHostNamespaces(t *testing.T) {
	b := load(t)
	pod := b.ds.Spec.Template.Spec
	if !pod.HostPID {
		t.Error("hostPID should be true: NVML reports host PIDs and jobs are host process trees")
	}
	if !pod.HostNetwork {
		t.Error("hostNetwork should be true: /proc/net and netlink describe the reader's network namespace")
	}
	if pod.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("dnsPolicy = %q, want %q with hostNetwork", pod.DNSPolicy, corev1.DNSClusterFirstWithHostNet)
	}
	if sel := b.ds.Spec.Selector; sel == nil || !labels.SelectorFromSet(sel.MatchLabels).Matches(labels.Set(b.ds.Spec.Template.Labels)) {
		t.Errorf("DaemonSet selector %v does not match the pod labels %v", sel, b.ds.Spec.Template.Labels)
	}
}

func TestDaemonSetSecurityContext(t *testing.T) {
	b := load(t)
	c := agentContainer(t, b.ds)
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("container has no securityContext")
	}
	isTrue := func(p *bool) bool { return p != nil && *p }
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem should be true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation should be false")
	}
	if isTrue(sc.Privileged) {
		t.Error("the container must not be privileged")
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Error("runAsUser should be 0: added capabilities are effective only for root")
	}
	if sc.Capabilities == nil {
		t.Fatal("no capabilities section")
	}
	if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("capabilities.drop = %q, want [ALL]", sc.Capabilities.Drop)
	}
	want := []corev1.Capability{"DAC_READ_SEARCH", "SYS_PTRACE"}
	if got := slices.Sorted(slices.Values(sc.Capabilities.Add)); !slices.Equal(got, want) {
		t.Errorf("capabilities.add = %q, want exactly %q", got, want)
	}
	if sc.AppArmorProfile == nil || sc.AppArmorProfile.Type != corev1.AppArmorProfileTypeUnconfined {
		t.Error("appArmorProfile should be Unconfined: the runtime's default profile denies ptrace-reads of host processes")
	}
	pod := b.ds.Spec.Template.Spec
	if pod.SecurityContext == nil || pod.SecurityContext.SeccompProfile == nil ||
		pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccompProfile should be RuntimeDefault")
	}
}

func TestDaemonSetResources(t *testing.T) {
	b := load(t)
	c := agentContainer(t, b.ds)
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[name]
		lim, okLim := c.Resources.Limits[name]
		if !okReq || !okLim {
			t.Errorf("%s: request and limit must both be set (request %v, limit %v)", name, okReq, okLim)
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("%s: request %s above limit %s", name, req.String(), lim.String())
		}
	}
	if cpu := c.Resources.Requests[corev1.ResourceCPU]; cpu.Cmp(resource.MustParse("10m")) < 0 {
		t.Errorf("cpu request %s is below the agent's measured use (about 1 %% of a core)", cpu.String())
	}
	e, ok := envValue(c, "GOMEMLIMIT")
	if !ok {
		t.Fatal("GOMEMLIMIT is not set")
	}
	soft, err := bytesize.Parse(e.Value)
	if err != nil {
		t.Fatalf("GOMEMLIMIT: %v", err)
	}
	memReq, memLim := c.Resources.Requests[corev1.ResourceMemory], c.Resources.Limits[corev1.ResourceMemory]
	if int64(soft) >= memLim.Value() || int64(soft) <= memReq.Value() {
		t.Errorf("GOMEMLIMIT %s should lie between the memory request %s and limit %s", e.Value, memReq.String(), memLim.String())
	}
}

func TestDaemonSetProbesAndPort(t *testing.T) {
	b := load(t)
	c := agentContainer(t, b.ds)
	if got := containerPort(t, c, "metrics"); got != metricsPort {
		t.Errorf("container port metrics = %d, want %d", got, metricsPort)
	}
	_, port, err := net.SplitHostPort(requireFlag(t, c, "listen"))
	if err != nil {
		t.Fatalf("--listen: %v", err)
	}
	if port != strconv.Itoa(metricsPort) {
		t.Errorf("--listen port %s differs from the container port %d", port, metricsPort)
	}
	tests := []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startup", c.StartupProbe, "/-/healthy"},
		{"liveness", c.LivenessProbe, "/-/healthy"},
		{"readiness", c.ReadinessProbe, "/-/ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.probe == nil || tt.probe.HTTPGet == nil {
				t.Fatal("no HTTP probe")
			}
			g := tt.probe.HTTPGet
			if g.Path != tt.path {
				t.Errorf("path = %q, want %q", g.Path, tt.path)
			}
			p := g.Port.IntVal
			if g.Port.StrVal != "" {
				p = containerPort(t, c, g.Port.StrVal)
			}
			if p != metricsPort {
				t.Errorf("port %s is %d, want %d", g.Port.String(), p, metricsPort)
			}
		})
	}
	// The HTTP server starts after the TSDB has replayed its WAL.
	if s := c.StartupProbe; s != nil && s.PeriodSeconds*s.FailureThreshold < 120 {
		t.Errorf("startup probe allows %d s, want at least 120 s for a WAL replay", s.PeriodSeconds*s.FailureThreshold)
	}
}

func TestConfigMapLoads(t *testing.T) {
	b := load(t)
	c := agentContainer(t, b.ds)
	cfg := loadAgentConfig(t, b, c)
	if cfg.Listen != requireFlag(t, c, "listen") || cfg.DataDir != requireFlag(t, c, "data-dir") {
		t.Errorf("listen %q, data dir %q: flags not applied", cfg.Listen, cfg.DataDir)
	}
	for _, r := range hostRoots(cfg) {
		if r.root == r.hostPath {
			t.Errorf("%s is %s: in a container that is the container's own, not the host's", r.key, r.root)
		}
	}
	if cfg.Storage.Disable {
		t.Error("history is off, but the DaemonSet keeps it on a hostPath volume")
	}
	if cfg.Storage.RetentionSize == 0 {
		t.Error("storage.retention_size should cap the history on the node's disk")
	}
	if cfg.Query.MaxSamples == 0 || cfg.Query.MaxConcurrency == 0 {
		t.Error("query.max_samples and query.max_concurrency should bound queries to the memory limit")
	}
}

func TestHostMountsMatchConfig(t *testing.T) {
	b := load(t)
	c := agentContainer(t, b.ds)
	cfg := loadAgentConfig(t, b, c)
	for _, r := range hostRoots(cfg) {
		t.Run(r.key, func(t *testing.T) {
			m, v := mountAt(t, b.ds, c, r.root)
			if !m.ReadOnly {
				t.Errorf("%s is mounted writable", r.root)
			}
			if v.HostPath == nil || v.HostPath.Path != r.hostPath {
				t.Errorf("%s (%s) should be the host's %s, got %+v", r.root, r.key, r.hostPath, v.VolumeSource)
			}
		})
	}
	t.Run("data-dir", func(t *testing.T) {
		m, v := mountAt(t, b.ds, c, cfg.DataDir)
		if m.ReadOnly {
			t.Error("the data directory is mounted read-only")
		}
		if v.HostPath == nil || v.HostPath.Path != "/var/lib/trainwatch" {
			t.Errorf("data directory should be the host's /var/lib/trainwatch, got %+v", v.VolumeSource)
		} else if v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathDirectoryOrCreate {
			t.Errorf("data directory hostPath type = %v, want DirectoryOrCreate", v.HostPath.Type)
		}
	})
}

func TestServiceAndServiceMonitor(t *testing.T) {
	b := load(t)
	c := agentContainer(t, b.ds)
	podLabels := labels.Set(b.ds.Spec.Template.Labels)
	if b.svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service clusterIP = %q, want None (headless: one target per node)", b.svc.Spec.ClusterIP)
	}
	if len(b.svc.Spec.Selector) == 0 || !labels.SelectorFromSet(b.svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("Service selector %v does not select the agent pods %v", b.svc.Spec.Selector, podLabels)
	}
	i := slices.IndexFunc(b.svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "metrics" })
	if i < 0 {
		t.Fatal("Service has no port named metrics")
	}
	sp := b.svc.Spec.Ports[i]
	target := sp.TargetPort.IntVal
	if sp.TargetPort.StrVal != "" {
		target = containerPort(t, c, sp.TargetPort.StrVal)
	}
	if sp.Port != metricsPort || target != metricsPort {
		t.Errorf("Service port %d -> %s, want %d -> %d", sp.Port, sp.TargetPort.String(), metricsPort, metricsPort)
	}

	sel, err := metav1.LabelSelectorAsSelector(&b.sm.Spec.Selector)
	if err != nil {
		t.Fatalf("ServiceMonitor selector: %v", err)
	}
	if sel.Empty() || !sel.Matches(labels.Set(b.svc.Labels)) {
		t.Errorf("ServiceMonitor selector %v does not select the Service's labels %v", sel, b.svc.Labels)
	}
	if ns := b.sm.Spec.NamespaceSelector; !ns.Any && !slices.Contains(ns.MatchNames, b.svc.Namespace) {
		t.Errorf("ServiceMonitor namespaceSelector %+v excludes %q", ns, b.svc.Namespace)
	}
	if len(b.sm.Spec.Endpoints) != 1 {
		t.Fatalf("want one ServiceMonitor endpoint, got %d", len(b.sm.Spec.Endpoints))
	}
	ep := b.sm.Spec.Endpoints[0]
	if ep.Port != sp.Name {
		t.Errorf("endpoint port %q, want the Service port %q", ep.Port, sp.Name)
	}
	if ep.Path != "/metrics" {
		t.Errorf("endpoint path %q, want /metrics", ep.Path)
	}
	if ep.Interval != "15s" {
		t.Errorf("endpoint interval %q, want 15s", ep.Interval)
	}
	if !ep.HonorLabels {
		t.Error("honorLabels should be true: pushed groups keep their job and instance labels (docs/training.md)")
	}
	nodeToInstance := slices.ContainsFunc(ep.RelabelConfigs, func(r monitoringv1.RelabelConfig) bool {
		return slices.Equal(r.SourceLabels, []monitoringv1.LabelName{"__meta_kubernetes_pod_node_name"}) &&
			r.TargetLabel == "instance" && (r.Action == "" || strings.EqualFold(r.Action, "replace"))
	})
	if !nodeToInstance {
		t.Errorf("no relabeling of __meta_kubernetes_pod_node_name to instance: %+v", ep.RelabelConfigs)
	}
}

// trainwatchBinary builds cmd/trainwatch once for the tests that run it.
var trainwatchBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "trainwatch-deploy-test-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "trainwatch")
	out, err := exec.Command("go", "build", "-trimpath", "-o", bin, "github.com/trainwatch/trainwatch/cmd/trainwatch").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := trainwatchBinary(); err == nil {
		_ = os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// binary returns the built trainwatch, skipping in -short mode.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs trainwatch")
	}
	bin, err := trainwatchBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestServeAcceptsContainerArgs parses the container's command line with the
// real `trainwatch serve`: cobra parses every flag (name and value) before it
// looks at --help, so an unknown flag or a malformed value fails here.
func TestServeAcceptsContainerArgs(t *testing.T) {
	b := load(t)
	c := agentContainer(t, b.ds)
	if !slices.Equal(c.Command, []string{"trainwatch"}) || len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("command %q args %q: want trainwatch serve ...", c.Command, c.Args)
	}
	bin := binary(t)
	tests := []struct {
		name   string
		extra  []string
		wantOK bool
	}{
		{"container args", nil, true},
		{"control: unknown flag", []string{"--no-such-flag"}, false},
		{"control: malformed value", []string{"--interval=soon"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(slices.Clone(c.Args), tt.extra...)
			out, err := exec.Command(bin, append(args, "--help")...).CombinedOutput()
			if ok := err == nil; ok != tt.wantOK {
				t.Errorf("trainwatch %s --help: err %v, want success %v\n%s", strings.Join(args, " "), err, tt.wantOK, out)
			}
		})
	}
}

// servingAddress matches the agent's start-up log line.
var servingAddress = regexp.MustCompile(`msg="trainwatch serving" address=(\S+)`)

// TestAgentStartsWithManifests runs `trainwatch serve` with the container's
// arguments and environment and the ConfigMap's file, its host roots pointing
// through symbolic links at this machine's /proc, /sys and / as the
// DaemonSet's mounts do on a node; only the listen address (a free loopback
// port) and the data directory (a temporary one) are overridden. The probes
// must answer, the host must be read through the roots, and SIGTERM must stop
// the agent cleanly within the pod's grace period.
func TestAgentStartsWithManifests(t *testing.T) {
	b := load(t)
	c := agentContainer(t, b.ds)
	cfg := loadAgentConfig(t, b, c)
	bin := binary(t)

	tmp := t.TempDir()
	var doc map[string]any
	key := configKey(t, b, c)
	if err := yaml.Unmarshal([]byte(b.cm.Data[key]), &doc); err != nil {
		t.Fatal(err)
	}
	host, _ := doc["host"].(map[string]any)
	roots, _ := host["roots"].(map[string]any)
	if roots == nil {
		t.Fatal("the ConfigMap's file has no host.roots")
	}
	for _, r := range hostRoots(cfg) {
		_, v := mountAt(t, b.ds, c, r.root)
		link := filepath.Join(tmp, "node", r.root)
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(v.HostPath.Path, link); err != nil {
			t.Fatal(err)
		}
		roots[strings.TrimPrefix(r.key, "host.roots.")] = link
	}
	rewritten, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(tmp, key)
	if err := os.WriteFile(cfgPath, rewritten, 0o600); err != nil {
		t.Fatal(err)
	}

	args := append(slices.Clone(c.Args), "--config="+cfgPath, "--listen=127.0.0.1:0", "--data-dir="+filepath.Join(tmp, "data"))
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "NODE_NAME=test-node")
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			logs.WriteLine(sc.Text())
			if m := servingAddress.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	var addr string
	select {
	case addr = <-addrc:
	case err := <-exited:
		t.Fatalf("trainwatch serve exited at start: %v\n%s", err, logs.String())
	case <-time.After(time.Minute):
		t.Fatalf("trainwatch serve did not start listening within a minute\n%s", logs.String())
	}
	base := "http://" + addr
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string, error) {
		resp, err := client.Get(base + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}

	for _, p := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe} {
		if code, body, err := get(p.HTTPGet.Path); err != nil || code != http.StatusOK {
			t.Errorf("GET %s: %d %q %v", p.HTTPGet.Path, code, body, err)
		}
	}
	ready := c.ReadinessProbe.HTTPGet.Path
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, err := get(ready)
		if err == nil && code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s not ready after 30 s: %d %q %v\n%s", ready, code, body, err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, metrics, err := get("/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", code, err)
	}
	// cpu reads <proc>/stat: success means the configured roots were used.
	for _, want := range []string{`trainwatch_collector_success{collector="cpu"} 1`, "node_cpu_seconds_total{"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q (host roots not read?)\n%s", want, logs.String())
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	grace := 30 * time.Second
	if g := b.ds.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("trainwatch serve after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(grace):
		t.Errorf("trainwatch serve still running %s after SIGTERM, the pod's grace period\n%s", grace, logs.String())
	}
}

// syncBuffer collects log lines from the reading goroutine for failure
// messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

// WriteLine appends one line.
func (s *syncBuffer) WriteLine(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.WriteString(line)
	s.buf.WriteByte('\n')
}

// String returns the lines so far.
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
