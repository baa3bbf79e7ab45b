package disk

import (
	"bytes"
	"path/filepath"
	"strconv"
	"strings"
)

// readInfo reads the node_disk_info label values of a device from sysfs:
// device, major, minor, path, wwn, model, serial, revision, rotational.
// node_exporter takes path, wwn, model, serial and revision from the udev
// database; trainwatch derives the same values from the sysfs attributes
// udev itself reads, so that no udev database is needed. A missing
// attribute leaves its label empty, as a missing udev property does.
// Called once per device, not every tick.
func (c *diskstatsCollector) readInfo(name, major, minor string) []string {
	dir := c.roots.SysPath("block", name)
	dev := filepath.Join(dir, "device")

	model := c.readAttr(dev, "model")
	revision := c.readAttr(dev, "rev") // SCSI and ATA
	if revision == "" {
		revision = c.readAttr(dev, "firmware_rev") // NVMe
	}
	rotational := "0"
	if r, err := c.roots.ReadUint(filepath.Join(dir, "queue", "rotational")); err == nil {
		rotational = strconv.FormatUint(r, 2)
	}
	return []string{name, major, minor, c.devicePath(name, dir, dev), c.wwn(name, dir, dev), model, c.serial(dir, dev), revision, rotational}
}

// readAttr reads a sysfs attribute, trimmed; "" when it is missing or
// unreadable.
func (c *diskstatsCollector) readAttr(dir, name string) string {
	s, err := c.roots.ReadString(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return s
}

// serial returns the disk's serial number as udev's ID_SERIAL_SHORT or
// SCSI_IDENT_SERIAL has it, which node_exporter prefers: the unit serial
// number VPD page of SCSI and ATA disks, the serial attribute of NVMe
// controllers and virtio disks.
func (c *diskstatsCollector) serial(dir, dev string) string {
	b, err := c.roots.ReadFile(filepath.Join(dev, "vpd_pg80"), c.attr)
	c.attr = b
	if err == nil {
		if s := parseVPD80(b); s != "" {
			return s
		}
	}
	if s := c.readAttr(dev, "serial"); s != "" {
		return s
	}
	return c.readAttr(dir, "serial")
}

// parseVPD80 returns the product serial number of a SCSI Unit Serial Number
// VPD page (0x80): a 4-byte header whose last two bytes give the length,
// then the ASCII serial, padded with spaces.
func parseVPD80(b []byte) string {
	if len(b) < 4 || b[1] != 0x80 {
		return ""
	}
	n := int(b[2])<<8 | int(b[3])
	if n > len(b)-4 {
		n = len(b) - 4
	}
	return string(bytes.Trim(b[4:4+n], " \x00"))
}

// wwn returns the World Wide Name as udev's ID_WWN has it: an NVMe
// namespace's wwid attribute unchanged ("eui.", "nvme." or "uuid."), and
// for SCSI and ATA disks the NAA identifier of the wwid attribute as
// "0x" and 16 hex digits. Other identifiers (t10.) are not WWNs: "".
func (c *diskstatsCollector) wwn(name, dir, dev string) string {
	if strings.HasPrefix(name, "nvme") {
		return c.readAttr(dir, "wwid")
	}
	return naaWWN(c.readAttr(dev, "wwid"))
}

// naaWWN turns a SCSI wwid "naa.5002538E40A0E1B2" into "0x5002538e40a0e1b2";
// it returns "" for any other identifier.
func naaWWN(wwid string) string {
	hex, ok := strings.CutPrefix(wwid, "naa.")
	if !ok || len(hex) < 16 {
		return ""
	}
	return "0x" + strings.ToLower(hex[:16])
}

// devicePath returns the persistent path of the device as udev's ID_PATH
// (path_id) has it, for the transports a training server uses for local
// disks: NVMe over PCIe ("pci-0000:01:00.0-nvme-1") and virtio
// ("pci-0000:00:05.0"). It returns "" for other transports (SCSI, ATA,
// NVMe over fabrics, native NVMe multipath), whose path_id trainwatch does
// not reproduce.
func (c *diskstatsCollector) devicePath(name, dir, dev string) string {
	switch {
	case strings.HasPrefix(name, "nvme"):
		if c.readAttr(dev, "transport") != "pcie" {
			return ""
		}
		addr, nsid := c.readAttr(dev, "address"), c.readAttr(dir, "nsid")
		if addr == "" || nsid == "" {
			return ""
		}
		return "pci-" + addr + "-nvme-" + nsid
	case strings.HasPrefix(name, "vd"):
		// device is the virtio device; its parent is the PCI function. The
		// path is not cleaned: the kernel resolves ".." after the link.
		b, err := c.roots.ReadFile(dev+"/../uevent", c.attr)
		c.attr = b
		if err != nil {
			return ""
		}
		for _, line := range bytes.Split(b, []byte{'\n'}) {
			if slot, ok := bytes.CutPrefix(line, []byte("PCI_SLOT_NAME=")); ok && len(slot) > 0 {
				return "pci-" + string(slot)
			}
		}
	}
	return ""
}
