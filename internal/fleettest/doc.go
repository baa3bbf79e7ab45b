// Package fleettest holds the fleet failure test of issue 13: three
// trainwatch agents, each in a network namespace of its own behind a veth
// pair, remote_write to one real Prometheus; Prometheus is stopped for
// 5 minutes and started again, and nothing any agent stored is missing
// from it; then one agent is killed, and the rule pack's
// TrainwatchAgentDown fires on the Prometheus for that agent alone.
//
// The package has no code, only the test. It needs root (ip netns), the
// ip command and Debian's prometheus: without them it is skipped, and
// under CI=true it fails instead.
package fleettest
