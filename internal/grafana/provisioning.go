package grafana

import "fmt"

// datasource is Grafana's data source provisioning file: a Prometheus data
// source pointing at the trainwatch agent, and, commented out, the same for
// a central Prometheus.
func datasource(opts Options) []byte {
	return fmt.Appendf(nil, `# Grafana data source for trainwatch, written by `+"`trainwatch grafana export`"+`.
# Put it in Grafana's provisioning/datasources/ directory
# (/etc/grafana/provisioning/datasources/ in the official image).
#
# The data source is the trainwatch agent itself: it answers the Prometheus
# HTTP API from its own history, the training runs' logged values included.
# The agent listens on 127.0.0.1:9835 by default: run Grafana on the same
# machine (a container with --network host), or start the agent with
# --listen :9835 and put its address below.
apiVersion: 1

datasources:
  - name: trainwatch
    uid: %[1]s
    type: prometheus
    access: proxy
    url: %[2]s
    editable: true
    jsonData:
      httpMethod: POST
      prometheusType: Prometheus
      timeInterval: 1s # the agent's collection interval (serve --interval)

# Alternative: a central Prometheus that scrapes the agents. It has the host,
# GPU, job and run-status series; the runs' logged values (training_loss,
# learning_rate, ...) reach it only through the agents' remote_write.
# Use it instead of the entry above (same uid, so the dashboards find it):
#
#  - name: trainwatch
#    uid: %[1]s
#    type: prometheus
#    access: proxy
#    url: http://prometheus:9090
#    editable: true
#    jsonData:
#      httpMethod: POST
#      prometheusType: Prometheus
#      timeInterval: 15s # the scrape interval
`, opts.DatasourceUID, opts.DatasourceURL)
}

// dashboardProvider is Grafana's dashboard provisioning file: the
// dashboards under DashboardsPath, in a "trainwatch" folder.
func dashboardProvider() []byte {
	return fmt.Appendf(nil, `# Grafana dashboard provider for trainwatch, written by `+"`trainwatch grafana export`"+`.
# Put it in Grafana's provisioning/dashboards/ directory
# (/etc/grafana/provisioning/dashboards/ in the official image), and the
# dashboards/*.json files in %[1]s.
apiVersion: 1

providers:
  - name: trainwatch
    orgId: 1
    folder: trainwatch
    folderUid: trainwatch
    type: file
    disableDeletion: false
    allowUiUpdates: false
    updateIntervalSeconds: 60
    options:
      path: %[1]s
      foldersFromFilesStructure: false
`, DashboardsPath)
}
