// Package kubernetes holds trainwatch's Kubernetes manifests: a DaemonSet that
// runs the agent on every GPU node, its namespace, ServiceAccount, ConfigMap,
// headless Service and Prometheus Operator ServiceMonitor, tied together by
// kustomization.yaml (kubectl apply -k deploy/kubernetes).
//
// The package has no code. Its tests decode every manifest strictly with the
// Kubernetes and Prometheus Operator API types, check the facts the agent
// depends on (host PID namespace, probe paths, ports, capabilities, host
// mounts against the configuration's host roots), load the ConfigMap's file
// with trainwatch's own configuration loader, and start `trainwatch serve`
// with the container's arguments.
package kubernetes
