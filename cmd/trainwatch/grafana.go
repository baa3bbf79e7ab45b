package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trainwatch/trainwatch/internal/grafana"
)

// newGrafanaCmd is `trainwatch grafana`: Grafana dashboards for the agent.
func newGrafanaCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "grafana",
		Short: "Grafana dashboards and provisioning files for trainwatch",
		Long: `Grafana dashboards for trainwatch agents, with the provisioning files that add
the agent as a Prometheus data source and load the dashboards.`,
		Args: noArgs,
	}
	cmd.AddCommand(newGrafanaExportCmd())
	return cmd
}

func newGrafanaExportCmd() *cobra.Command {
	var (
		out       string
		opts      grafana.Options
		dashboard string
	)
	cmd := &cobra.Command{
		Use:   "export [--out DIR] [--datasource-uid UID] [--datasource-url URL] [--dashboard NAME]",
		Short: "Write the Grafana dashboards (and, with --out, the provisioning files)",
		Long: `Writes trainwatch's Grafana dashboards (JSON model, Grafana 10 and 11):

  overview   "trainwatch — ML training overview": runs (loss, validation loss, learning
             rate, throughput, progress, ETA), GPUs (utilisation, memory, temperature,
             power, clocks, throttle reasons, XID errors), which process and job uses
             which GPU, the host, and the alerts
  gpu        "trainwatch — GPU detail": one GPU in depth
  host       "trainwatch — host": CPU, memory, disks, filesystems, network, processes
             and the agent's collectors

Every panel queries the data source chosen in the dashboard's "Data source"
drop-down (default: the data source with uid --datasource-uid) for the agent
chosen in "Instance": the agent itself (it answers the Prometheus API) or a
Prometheus that scrapes agents.

With --out DIR, writes (creating directories, replacing these files):

  DIR/dashboards/trainwatch-overview.json
  DIR/dashboards/trainwatch-gpu.json
  DIR/dashboards/trainwatch-host.json
  DIR/provisioning/datasources/trainwatch.yml   the agent at --datasource-url
                                                 as a Prometheus data source
  DIR/provisioning/dashboards/trainwatch.yml    a provider that loads the
                                                 dashboards from
                                                 ` + grafana.DashboardsPath + `

Copy or mount DIR/provisioning/* into Grafana's provisioning directory
(/etc/grafana/provisioning) and DIR/dashboards/*.json into
` + grafana.DashboardsPath + `. deploy/grafana in the repository is
this command's output with the defaults.

Without --out, prints one dashboard (--dashboard, default overview) on stdout,
ready for Grafana's "Import dashboard".`,
		Example: `  trainwatch grafana export --out deploy/grafana
  trainwatch grafana export --dashboard gpu > trainwatch-gpu.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.Validate(); err != nil {
				return usageError{err}
			}
			if out == "" {
				name := dashboard
				if name == "" {
					name = "overview"
				}
				if !slices.Contains(grafana.Names(), name) {
					return usagef("--dashboard %q: want one of %s", name, strings.Join(grafana.Names(), ", "))
				}
				d, err := grafana.Build(name, opts)
				if err != nil {
					return err
				}
				b, err := d.Encode()
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			if dashboard != "" {
				return usagef("--dashboard applies only without --out (with --out every dashboard is written)")
			}
			files, err := grafana.Files(opts)
			if err != nil {
				return err
			}
			for _, f := range files {
				if err := writeFileAtomic(filepath.Join(out, filepath.FromSlash(f.Path)), f.Data); err != nil {
					return err
				}
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %d files under %s\n", len(files), out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory to write the dashboards and provisioning files into (default: print one dashboard on stdout)")
	f.StringVar(&opts.DatasourceUID, "datasource-uid", grafana.DefaultDatasourceUID, "uid of the provisioned data source, the dashboards' default data source")
	f.StringVar(&opts.DatasourceURL, "datasource-url", grafana.DefaultDatasourceURL, "URL of the provisioned data source: the agent, as Grafana reaches it")
	f.StringVar(&dashboard, "dashboard", "", "without --out: the dashboard to print: "+strings.Join(grafana.Names(), ", ")+" (default overview)")
	return cmd
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, so that a reader (Grafana polls its provisioning directory)
// never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
