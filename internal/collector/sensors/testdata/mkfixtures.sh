#!/bin/sh
# Rebuilds the sysfs fixture trees of the sensors collectors:
#   testdata/sys                               this package's tests (every case)
#   ../host/testdata/root/sys (with --host)    the project-wide golden /metrics test
#                                              (a typical Intel training server)
# Real sysfs paths hold ':' (pci0000:00, intel-rapl:0); Go module zips reject
# ':' in file names, so this package's fixtures write '_' instead. Chip labels
# derived from such paths differ accordingly (pci0000_00_... instead of
# pci0000:00_...). The golden tree follows the disk fixtures' NVMe path.
#
# Usage: sh testdata/mkfixtures.sh [--host] DIR   (DIR becomes the sysfs root)
set -eu

host=0
# The NVMe controller's device directory (the golden tree shares the one
# the disk fixtures link block/nvme0n1 to).
nvme=pci0000_00/0000_00_1d.0/0000_3d_00.0/nvme/nvme0
smbus=pci0000_00/0000_00_1f.4/i2c-0
if [ "${1:-}" = "--host" ]; then
	host=1
	nvme=pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0
	smbus=pci0000:00/0000:00:1f.4/i2c-0
	shift
fi
root=$1
rm -rf "$root/class/hwmon" "$root/class/thermal" "$root/class/power_supply" "$root/class/powercap" \
	"$root/devices/platform/coretemp.0" "$root/devices/platform/coretemp.1" "$root/devices/platform/nct6775.656" \
	"$root/devices/platform/i2c_designware.0" "$root/devices/platform/ACPI0003_00" "$root/devices/platform/PNP0C0A_00" \
	"$root/devices/pci0000_00/0000_00_18.3" "$root/devices/$nvme/hwmon2" \
	"$root/devices/virtual/thermal" "$root/devices/virtual/hwmon" "$root/devices/virtual/powercap"
mkdir -p "$root/class/hwmon" "$root/class/thermal" "$root/class/power_supply" "$root/class/powercap"

# put FILE VALUE: writes VALUE and a newline, as sysfs does.
put() {
	mkdir -p "$(dirname "$1")"
	printf '%s\n' "$2" >"$1"
}

# chip CLASSNAME DEVICE-DIR HWMON-DIR-UNDER-DEVICE: a hwmon chip directory
# linked from class/hwmon, with the device link and the files every hwmon
# directory has. Prints the chip directory.
chip() {
	dev=$root/devices/$2
	dir=$dev/$3
	mkdir -p "$dir/power"
	put "$dir/power/runtime_status" unsupported
	put "$dir/uevent" ""
	# device -> the device directory, relative as in sysfs.
	up=$(echo "$3" | sed 's|[^/]*|..|g')
	ln -s "$up/../$(basename "$dev")" "$dir/device"
	ln -s "../../devices/$2/$3" "$root/class/hwmon/$1"
	echo "$dir"
}

# Intel CPU package sensors.
d=$(chip hwmon1 platform/coretemp.0 hwmon/hwmon1)
put "$root/devices/platform/coretemp.0/modalias" platform:coretemp
put "$root/devices/platform/coretemp.0/uevent" "DRIVER=coretemp"
mkdir -p "$root/devices/platform/coretemp.0/power"
put "$root/devices/platform/coretemp.0/power/runtime_status" unsupported
put "$d/name" coretemp
put "$d/temp1_label" "Package id 0"
put "$d/temp1_input" 45000
put "$d/temp1_max" 80000
put "$d/temp1_crit" 100000
put "$d/temp1_crit_alarm" 0
put "$d/temp2_label" "Core 0"
put "$d/temp2_input" 41000
put "$d/temp2_max" 80000
put "$d/temp2_crit" 100000
put "$d/temp2_crit_alarm" 0
put "$d/temp3_label" "Core 1"
put "$d/temp3_input" 43000
put "$d/temp3_max" 80000
put "$d/temp3_crit" 100000
put "$d/temp3_crit_alarm" 0

# NVMe drive: composite temperature with thresholds, two raw sensors.
d=$(chip hwmon2 "$nvme" hwmon2)
put "$d/name" nvme
put "$d/temp1_label" Composite
put "$d/temp1_input" 37850
put "$d/temp1_max" 82850
put "$d/temp1_min" -5150
put "$d/temp1_crit" 84850
put "$d/temp1_alarm" 0
put "$d/temp2_label" "Sensor 1"
put "$d/temp2_input" 36850
put "$d/temp2_max" 65261850
put "$d/temp2_min" -273150
put "$d/temp3_label" "Sensor 2"
put "$d/temp3_input" 41850
put "$d/temp3_max" 65261850
put "$d/temp3_min" -273150

# DDR4 DIMM temperature sensor on the SMBus (thresholds with hysteresis).
d=$(chip hwmon3 "$smbus/0-0018" hwmon/hwmon3)
put "$d/name" jc42
put "$d/temp1_input" 34500
put "$d/temp1_max" 85000
put "$d/temp1_max_alarm" 0
put "$d/temp1_min" 0
put "$d/temp1_min_alarm" 0
put "$d/temp1_crit" 95000
put "$d/temp1_crit_alarm" 0
put "$d/temp1_crit_hyst" 93500

# Super-I/O chip on the mainboard: fans, voltages, PWM, intrusion.
d=$(chip hwmon4 platform/nct6775.656 hwmon/hwmon4)
put "$d/name" nct6798
put "$d/fan1_input" 1250
put "$d/fan1_min" 0
put "$d/fan1_alarm" 0
put "$d/fan1_beep" 0
put "$d/fan1_pulses" 2
put "$d/fan2_input" 0
put "$d/fan2_min" 300
put "$d/fan2_alarm" 1
put "$d/in0_input" 1016
put "$d/in0_min" 0
put "$d/in0_max" 1744
put "$d/in0_alarm" 0
put "$d/temp1_label" SYSTIN
put "$d/temp1_input" 38000
put "$d/temp1_max" 80000
put "$d/temp1_max_hyst" 75000
put "$d/temp1_type" 4
put "$d/pwm1" 128
put "$d/pwm1_enable" 5
put "$d/pwm1_mode" 1
put "$d/intrusion0_alarm" 0
put "$d/beep_enable" 0

# ACPI thermal zone (also a hwmon chip) and the x86 package zone.
z=$root/devices/virtual/thermal
put "$z/thermal_zone0/type" x86_pkg_temp
put "$z/thermal_zone0/temp" 47000
put "$z/thermal_zone0/policy" step_wise
put "$z/thermal_zone0/mode" enabled
ln -s ../../devices/virtual/thermal/thermal_zone0 "$root/class/thermal/thermal_zone0"
put "$z/cooling_device0/type" Processor
put "$z/cooling_device0/cur_state" 0
put "$z/cooling_device0/max_state" 3
ln -s ../../devices/virtual/thermal/cooling_device0 "$root/class/thermal/cooling_device0"

# AC adapter.
p=$root/devices/platform/ACPI0003_00/power_supply/AC
put "$p/type" Mains
put "$p/online" 1
put "$p/uevent" "POWER_SUPPLY_NAME=AC
POWER_SUPPLY_TYPE=Mains
POWER_SUPPLY_ONLINE=1"
mkdir -p "$p/power"
put "$p/power/runtime_status" unsupported
ln -s ../../devices/platform/ACPI0003_00/power_supply/AC "$root/class/power_supply/AC"

# RAPL: one socket, package and dram.
r=$root/devices/virtual/powercap/intel-rapl
put "$r/enabled" 1
ln -s ../../devices/virtual/powercap/intel-rapl "$root/class/powercap/intel-rapl"
rapl() { # rapl PATH-UNDER-intel-rapl NAME ENERGY
	put "$r/$1/name" "$2"
	put "$r/$1/energy_uj" "$3"
	put "$r/$1/max_energy_range_uj" 262143328850
	put "$r/$1/enabled" 1
	ln -s "../../devices/virtual/powercap/intel-rapl/$1" "$root/class/powercap/$(basename "$1")"
}
rapl intel-rapl_0 package-0 123456789012
rapl intel-rapl_0/intel-rapl_0_2 dram 9876543210

[ "$host" = 1 ] && exit 0

# ---- Cases for this package's tests only. ----

# ACPI thermal zone that is also a hwmon chip (chip thermal_thermal_zone1).
put "$z/thermal_zone1/type" acpitz
put "$z/thermal_zone1/temp" 27800
put "$z/thermal_zone1/policy" step_wise
ln -s ../../devices/virtual/thermal/thermal_zone1 "$root/class/thermal/thermal_zone1"
d=$(chip hwmon0 virtual/thermal/thermal_zone1 hwmon0)
put "$d/name" acpitz
put "$d/temp1_input" 27800
put "$d/temp1_crit" 105000
# A disabled zone is skipped.
put "$z/thermal_zone2/type" iwlwifi_1
put "$z/thermal_zone2/temp" 0
put "$z/thermal_zone2/policy" step_wise
put "$z/thermal_zone2/mode" disabled
ln -s ../../devices/virtual/thermal/thermal_zone2 "$root/class/thermal/thermal_zone2"
# intel_powerclamp reports -1 when idle injection is off.
put "$z/cooling_device1/type" intel_powerclamp
put "$z/cooling_device1/cur_state" -1
put "$z/cooling_device1/max_state" 50
ln -s ../../devices/virtual/thermal/cooling_device1 "$root/class/thermal/cooling_device1"

# AMD CPU sensors (PCI device, chip pci0000_00_0000_00_18_3).
d=$(chip hwmon8 pci0000_00/0000_00_18.3 hwmon/hwmon8)
put "$root/devices/pci0000_00/0000_00_18.3/vendor" 0x1022
put "$root/devices/pci0000_00/0000_00_18.3/current_link_speed" "Unknown"
put "$d/name" k10temp
put "$d/temp1_label" Tctl
put "$d/temp1_input" 52250
put "$d/temp1_max" 70000
put "$d/temp1_crit" 100000
put "$d/temp1_crit_hyst" 97000
put "$d/temp3_label" Tccd1
put "$d/temp3_input" 48500

# I2C power monitor: voltage, current, power, energy.
d=$(chip hwmon5 platform/i2c_designware.0/i2c-1/1-0040 hwmon/hwmon5)
put "$d/name" ina238
put "$d/in0_input" 12
put "$d/in1_input" 12045
put "$d/curr1_input" 2500
put "$d/power1_input" 30112500
put "$d/power1_max" 300000000
put "$d/energy1_input" 123456789000
put "$d/temp1_input" 35125

# I2C humidity sensor with an update interval.
d=$(chip hwmon6 platform/i2c_designware.0/i2c-1/1-0044 hwmon/hwmon6)
put "$d/name" sht3x
put "$d/temp1_input" 24500
put "$d/humidity1_input" 45500
put "$d/update_interval" 1000

# A chip with neither device link nor name: named after its directory.
mkdir -p "$root/devices/virtual/hwmon/hwmon7"
put "$root/devices/virtual/hwmon/hwmon7/temp1_input" 30000
ln -s ../../devices/virtual/hwmon/hwmon7 "$root/class/hwmon/hwmon7"

# A battery.
p=$root/devices/platform/PNP0C0A_00/power_supply/BAT0
put "$p/type" Battery
put "$p/status" Discharging
put "$p/present" 1
put "$p/technology" Li-ion
put "$p/cycle_count" 12
put "$p/voltage_min_design" 11400000
put "$p/voltage_now" 12100000
put "$p/power_now" 9500000
put "$p/energy_full_design" 57000000
put "$p/energy_full" 52000000
put "$p/energy_now" 45000000
put "$p/capacity" 87
put "$p/capacity_level" Normal
put "$p/model_name" 5B10W13930
put "$p/manufacturer" SMP
put "$p/serial_number" "  1234 "
put "$p/temp" 305
put "$p/alarm" 0
ln -s ../../devices/platform/PNP0C0A_00/power_supply/BAT0 "$root/class/power_supply/BAT0"

# More RAPL zones: core and uncore, a second socket with its own core zone
# (index 1 by count), and the intel-rapl-mmio control type (no name).
rapl intel-rapl_0/intel-rapl_0_0 core 45678901234
rapl intel-rapl_0/intel-rapl_0_1 uncore 1234567
rapl intel-rapl_1 package-1 98765432101
rapl intel-rapl_1/intel-rapl_1_0 core 40000000000
mkdir -p "$root/devices/virtual/powercap/intel-rapl-mmio"
put "$root/devices/virtual/powercap/intel-rapl-mmio/enabled" 0
ln -s ../../devices/virtual/powercap/intel-rapl-mmio "$root/class/powercap/intel-rapl-mmio"
