package procinfo

import (
	"strings"
	"testing"
)

// Lines as hosts write them. Ids are from public bug reports and test
// suites of container tooling (neuvector, falco, cadvisor) or made up in
// the same shape.
func TestParseCgroup(t *testing.T) {
	const (
		id64  = "9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d"
		id64b = "f45298cd514d1930c4fe3afc4412e59547f7e3148fddd22ca33cefce046eb830"
	)
	tests := []struct {
		name    string
		in      string
		want    Attribution
		wantErr string
	}{
		{
			name: "host process, cgroup v2",
			in:   "0::/user.slice/user-1000.slice/session-2.scope\n",
			want: Attribution{Path: "/user.slice/user-1000.slice/session-2.scope"},
		},
		{
			name: "host process, cgroup v1",
			in:   "12:pids:/\n11:hugetlb:/\n5:memory:/\n1:name=systemd:/init.scope\n",
			want: Attribution{Path: "/init.scope"},
		},
		{
			name: "Docker, cgroupfs driver, v1 (Debian/Ubuntu)",
			in: "12:name=systemd:/docker/31cb02944da7a12196a193cf0e0f6c226d7c453a1db62e65ba98287593a2ee30\n" +
				"11:hugetlb:/docker/31cb02944da7a12196a193cf0e0f6c226d7c453a1db62e65ba98287593a2ee30\n" +
				"2:cpu:/docker/31cb02944da7a12196a193cf0e0f6c226d7c453a1db62e65ba98287593a2ee30\n",
			want: Attribution{Path: "/docker/31cb02944da7a12196a193cf0e0f6c226d7c453a1db62e65ba98287593a2ee30",
				Container: "31cb02944da7", Runtime: "docker"},
		},
		{
			name: "Docker, systemd driver, v1 (CentOS)",
			in: "10:devices:/system.slice/docker-" + id64 + ".scope\n" +
				"2:cpuacct,cpu:/system.slice/docker-" + id64 + ".scope\n" +
				"1:name=systemd:/system.slice/docker-" + id64 + ".scope\n",
			want: Attribution{Path: "/system.slice/docker-" + id64 + ".scope", Container: "9ec39b91f3d7", Runtime: "docker"},
		},
		{
			name: "Docker, systemd driver, v2",
			in:   "0::/system.slice/docker-" + id64 + ".scope\n",
			want: Attribution{Path: "/system.slice/docker-" + id64 + ".scope", Container: "9ec39b91f3d7", Runtime: "docker"},
		},
		{
			name: "Docker in Docker (RancherOS): the innermost container",
			in:   "9:name=systemd:/docker/a9a5ad238e59234193ee7ec3fcff5e735b3708ea1068826952255b69e3cfa413/docker/ec08435e04266c5ba381fccbb829f626d11d8ddf5f8f547263c7a2d79ab4787a\n",
			want: Attribution{Path: "/docker/a9a5ad238e59234193ee7ec3fcff5e735b3708ea1068826952255b69e3cfa413/docker/ec08435e04266c5ba381fccbb829f626d11d8ddf5f8f547263c7a2d79ab4787a",
				Container: "ec08435e0426", Runtime: "docker"},
		},
		{
			name: "Kubernetes, containerd, systemd driver, v2 (Burstable)",
			in:   "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod4b1f4f77_49e6_4e30_98db_e98055c8a54f.slice/cri-containerd-" + id64b + ".scope\n",
			want: Attribution{Path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod4b1f4f77_49e6_4e30_98db_e98055c8a54f.slice/cri-containerd-" + id64b + ".scope",
				Container: "f45298cd514d", Runtime: "containerd", Pod: "4b1f4f77-49e6-4e30-98db-e98055c8a54f"},
		},
		{
			name: "Kubernetes, containerd, systemd driver, v1 (Bottlerocket, BestEffort)",
			in: "11:cpuset:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-poddd1bf9d1_241d_47f5_8e25_12de83135812.slice/cri-containerd-" + id64b + ".scope\n" +
				"1:name=systemd:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-poddd1bf9d1_241d_47f5_8e25_12de83135812.slice/cri-containerd-" + id64b + ".scope\n",
			want: Attribution{Path: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-poddd1bf9d1_241d_47f5_8e25_12de83135812.slice/cri-containerd-" + id64b + ".scope",
				Container: "f45298cd514d", Runtime: "containerd", Pod: "dd1bf9d1-241d-47f5-8e25-12de83135812"},
		},
		{
			name: "Kubernetes Guaranteed pod (no QoS level), CRI-O, v2",
			in:   "0::/kubepods.slice/kubepods-pod69349abe_d645_11ea_9c4c_08002709c05c.slice/crio-80d85a3a585f1575028ebe468d83093c301eda20d37d1671ff2a0be50fc0e460.scope\n",
			want: Attribution{Path: "/kubepods.slice/kubepods-pod69349abe_d645_11ea_9c4c_08002709c05c.slice/crio-80d85a3a585f1575028ebe468d83093c301eda20d37d1671ff2a0be50fc0e460.scope",
				Container: "80d85a3a585f", Runtime: "cri-o", Pod: "69349abe-d645-11ea-9c4c-08002709c05c"},
		},
		{
			name: "OpenShift static pod (manifest hash as UID), CRI-O",
			in:   "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pode4e6004e827fdf45941cf777618f60ce.slice/crio-192f5a90b165665d969bb0137b8573f2214c8f75b728ecc58dbbc7fccd64af28.scope\n",
			want: Attribution{Path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pode4e6004e827fdf45941cf777618f60ce.slice/crio-192f5a90b165665d969bb0137b8573f2214c8f75b728ecc58dbbc7fccd64af28.scope",
				Container: "192f5a90b165", Runtime: "cri-o", Pod: "e4e6004e827fdf45941cf777618f60ce"},
		},
		{
			name: "CRI-O conmon: the pod, not a container",
			in:   "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod8ca306fa_3c03_47fa_97dd_19979c345572.slice/crio-conmon-d6d725b909f37c3e232aadfbafa950a58bfe7baa579ba8c47a12be88bb921607.scope\n",
			want: Attribution{Path: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod8ca306fa_3c03_47fa_97dd_19979c345572.slice/crio-conmon-d6d725b909f37c3e232aadfbafa950a58bfe7baa579ba8c47a12be88bb921607.scope",
				Pod: "8ca306fa-3c03-47fa-97dd-19979c345572"},
		},
		{
			name: "Kubernetes, cgroupfs driver, v1 (kubeadm with Docker)",
			in: "11:devices:/kubepods/besteffort/pod74ba62da-1a3d-11e7-bb11-080027cb0e22/cb1eadb7abe3a6545e9856411207073277838e1bdc003337c2f8685faeedc32c\n" +
				"1:name=systemd:/kubepods/besteffort/pod74ba62da-1a3d-11e7-bb11-080027cb0e22/cb1eadb7abe3a6545e9856411207073277838e1bdc003337c2f8685faeedc32c\n",
			want: Attribution{Path: "/kubepods/besteffort/pod74ba62da-1a3d-11e7-bb11-080027cb0e22/cb1eadb7abe3a6545e9856411207073277838e1bdc003337c2f8685faeedc32c",
				Container: "cb1eadb7abe3", Runtime: "containerd", Pod: "74ba62da-1a3d-11e7-bb11-080027cb0e22"},
		},
		{
			name: "Kubernetes, cgroupfs, a sub-cgroup below the container (kube-proxy)",
			in:   "10:memory:/kubepods/besteffort/podf8a694f2-7c08-11e9-98da-000c29077430/c04e0a88a1de067f25bece337d4dbb897396e0b623c2a65330850fc9823f1903/kube-proxy\n",
			want: Attribution{Path: "/kubepods/besteffort/podf8a694f2-7c08-11e9-98da-000c29077430/c04e0a88a1de067f25bece337d4dbb897396e0b623c2a65330850fc9823f1903/kube-proxy",
				Container: "c04e0a88a1de", Runtime: "containerd", Pod: "f8a694f2-7c08-11e9-98da-000c29077430"},
		},
		{
			name: "k3s Guaranteed pod, cgroupfs, v2",
			in:   "0::/kubepods/pod1fe19bf5-e8ef-11e8-900c-52daee5a874d/da31e536c8d61304a6d5998d163d12400a7a9a1003e1d86369e8fadb022fc17d\n",
			want: Attribution{Path: "/kubepods/pod1fe19bf5-e8ef-11e8-900c-52daee5a874d/da31e536c8d61304a6d5998d163d12400a7a9a1003e1d86369e8fadb022fc17d",
				Container: "da31e536c8d6", Runtime: "containerd", Pod: "1fe19bf5-e8ef-11e8-900c-52daee5a874d"},
		},
		{
			name: "Podman rootful, v2",
			in:   "0::/machine.slice/libpod-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope\n",
			want: Attribution{Path: "/machine.slice/libpod-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
				Container: "0123456789ab", Runtime: "podman"},
		},
		{
			name: "Podman rootless, v2, with the container sub-cgroup",
			in:   "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-be131b155b6a8ac24cfbafd05aa72c1575512f60dd242b24eec1c3cbb05e543a.scope/container\n",
			want: Attribution{Path: "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-be131b155b6a8ac24cfbafd05aa72c1575512f60dd242b24eec1c3cbb05e543a.scope/container",
				Container: "be131b155b6a", Runtime: "podman"},
		},
		{
			name: "Podman, cgroupfs manager",
			in:   "0::/libpod_parent/libpod-132ff0d72245e6f13a3bbc6cdc5376886897b60ac59eaa8dea1df7ab959cbf1c\n",
			want: Attribution{Path: "/libpod_parent/libpod-132ff0d72245e6f13a3bbc6cdc5376886897b60ac59eaa8dea1df7ab959cbf1c",
				Container: "132ff0d72245", Runtime: "podman"},
		},
		{
			name: "Podman conmon is not the container",
			in:   "0::/machine.slice/libpod-conmon-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope\n",
			want: Attribution{Path: "/machine.slice/libpod-conmon-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope"},
		},
		{
			name: "Slurm, cgroup v1",
			in: "7:cpu,cpuacct:/slurm/uid_1001/job_734211/step_0/task_0\n" +
				"4:memory:/slurm/uid_1001/job_734211/step_0/task_0\n" +
				"1:name=systemd:/system.slice/slurmd.service\n",
			want: Attribution{Path: "/system.slice/slurmd.service", SlurmJob: "734211"},
		},
		{
			name: "Slurm, cgroup v1, multiple slurmd",
			in:   "4:memory:/slurm_node07/uid_1001/job_99/step_batch/task_0\n",
			want: Attribution{Path: "/slurm_node07/uid_1001/job_99/step_batch/task_0", SlurmJob: "99"},
		},
		{
			name: "Slurm, cgroup v2",
			in:   "0::/system.slice/slurmstepd.scope/job_5551212/step_0/user/task_0\n",
			want: Attribution{Path: "/system.slice/slurmstepd.scope/job_5551212/step_0/user/task_0", SlurmJob: "5551212"},
		},
		{
			name: "Slurm, cgroup v2, multiple slurmd",
			in:   "0::/system.slice/gpu-node-3_slurmstepd.scope/job_42/step_extern/user/task_special\n",
			want: Attribution{Path: "/system.slice/gpu-node-3_slurmstepd.scope/job_42/step_extern/user/task_special", SlurmJob: "42"},
		},
		{
			name: "Slurm inside a Kubernetes pod (slurmd in a pod)",
			in:   "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-poda101c1c8_1589_4313_acf5_02e3ca8d3994.slice/system.slice/slurmstepd.scope/job_7/step_0/user/task_0\n",
			want: Attribution{Path: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-poda101c1c8_1589_4313_acf5_02e3ca8d3994.slice/system.slice/slurmstepd.scope/job_7/step_0/user/task_0",
				Pod: "a101c1c8-1589-4313-acf5-02e3ca8d3994", SlurmJob: "7"},
		},
		{
			name: "names that only look like pods, jobs or containers",
			in:   "0::/system.slice/pod-cleaner.service/job_12/docker-notanid.scope\n",
			want: Attribution{Path: "/system.slice/pod-cleaner.service/job_12/docker-notanid.scope"},
		},
		{
			name: "hybrid: v1 container, v2 line first is taken as Path",
			in:   "0::/system.slice/containerd.service\n4:memory:/docker/31cb02944da7a12196a193cf0e0f6c226d7c453a1db62e65ba98287593a2ee30\n",
			want: Attribution{Path: "/system.slice/containerd.service", Container: "31cb02944da7", Runtime: "docker"},
		},
		{
			name: "a removed cgroup",
			in:   "0::/system.slice/docker-" + id64 + ".scope (deleted)\n",
			want: Attribution{Path: "/system.slice/docker-" + id64 + ".scope", Container: "9ec39b91f3d7", Runtime: "docker"},
		},
		{
			name: "a path holding ':'",
			in:   "0::/system.slice/system-getty.slice/getty@tty1:x.service\n",
			want: Attribution{Path: "/system.slice/system-getty.slice/getty@tty1:x.service"},
		},
		{name: "empty file (kernel without cgroups)", in: "", want: Attribution{}},
		{
			name:    "one colon",
			in:      "0::/init.scope\n1:name=systemd\n",
			wantErr: `/proc/1/cgroup:2: expected hierarchy-ID:controller-list:cgroup-path (line: "1:name=systemd")`,
		},
		{
			name:    "no colon",
			in:      "garbage\n",
			wantErr: `/proc/1/cgroup:1: expected hierarchy-ID:controller-list:cgroup-path (line: "garbage")`,
		},
		{
			name:    "hierarchy ID not a number",
			in:      "x::/init.scope\n",
			wantErr: `/proc/1/cgroup:1: hierarchy ID "x" is not an unsigned integer (line: "x::/init.scope")`,
		},
		{
			name:    "relative path",
			in:      "0::init.scope\n",
			wantErr: `/proc/1/cgroup:1: cgroup path "init.scope" is not absolute (line: "0::init.scope")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCgroup("/proc/1/cgroup", []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v\nwant  %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestClassifyContainerIDs(t *testing.T) {
	tests := []struct{ seg, id, rt string }{
		{"docker-" + strings.Repeat("ab", 32) + ".scope", "abababababab", "docker"},
		{"cri-containerd-" + strings.Repeat("0f", 32) + ".scope", "0f0f0f0f0f0f", "containerd"},
		{"crio-" + strings.Repeat("12", 32) + ".scope", "121212121212", "cri-o"},
		{"crio-" + strings.Repeat("12", 32), "121212121212", "cri-o"},
		{"libpod-payload-" + strings.Repeat("cd", 32) + ".scope", "cdcdcdcdcdcd", "podman"},
		{"docker-" + strings.Repeat("AB", 32) + ".scope", "", ""}, // runtimes write lower case
		{"docker-abc.scope", "", ""},
		{"docker.service", "", ""},
		{"crio-conmon-" + strings.Repeat("12", 32) + ".scope", "", ""},
	}
	for _, tt := range tests {
		a := classify("/system.slice/" + tt.seg)
		if a.Container != tt.id || a.Runtime != tt.rt {
			t.Errorf("%s: got %q %q, want %q %q", tt.seg, a.Container, a.Runtime, tt.id, tt.rt)
		}
	}
}
