//! What to enable on a device so imagewatch can watch it, per vendor, in configuration a
//! network engineer can paste. Each text rests on the vendor document named beside it; where a
//! detail is not in a public document it says so.

/// The vendor families the advice distinguishes (rule-file vendor names map onto them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Platform {
    Ios,
    Nxos,
    Junos,
    Eos,
    Asa,
    Panos,
    Fortigate,
    Unknown,
}

impl Platform {
    /// The family of a rule-file or inventory vendor name (`cisco_iosxe` is IOS).
    pub(crate) fn of(vendor: Option<&str>) -> Platform {
        match vendor.unwrap_or_default() {
            "cisco_ios" | "cisco_iosxe" => Platform::Ios,
            "cisco_nxos" => Platform::Nxos,
            "juniper_junos" => Platform::Junos,
            "arista_eos" => Platform::Eos,
            "cisco_asa" | "cisco_ftd" => Platform::Asa,
            "paloalto_panos" => Platform::Panos,
            "fortinet_fortigate" => Platform::Fortigate,
            _ => Platform::Unknown,
        }
    }

    /// What makes the device log the commands typed at it (copy, boot, install, reload).
    pub(crate) fn commands(self) -> &'static str {
        match self {
            // Cisco "Configuration Change Notification and Logging" (archive log config):
            // config-mode commands as %PARSER-5-CFGLOG_LOGGEDCMD; exec commands (copy, verify,
            // install, reload) are not in it, hence the EEM applet or TACACS+ accounting
            // (FORMATS.md §2, §8).
            Platform::Ios => {
                "commands are not logged: `archive` / ` log config` / `  logging enable` / \
                 `  notify syslog contenttype plaintext` / `  hidekeys` (config-mode commands, \
                 %PARSER-5-CFGLOG_LOGGEDCMD); for exec commands (copy, verify, install, reload) \
                 add `event manager applet CLIaccounting` / ` event cli pattern \".*\" sync no \
                 skip no` / ` action 1.0 syslog priority informational msg \"$_cli_msg\"`, or \
                 TACACS+ `aaa accounting commands 15 default start-stop group tacacs+` with the \
                 accounting log forwarded to the collector"
            }
            // NX-OS Security Configuration Guide, "Configuring AAA" (accounting is local by
            // default); the logging level that puts %AAA-6-AAA_ACCOUNTING_MESSAGE into syslog is
            // not in a public document we found: unverified.
            Platform::Nxos => {
                "commands are not logged: `aaa accounting default local` and `logging level aaa \
                 6` with `logging server <collector> 6`, so every command reaches syslog as \
                 %AAA-6-AAA_ACCOUNTING_MESSAGE (or TACACS+ `aaa accounting default group \
                 <tacacs-group>` with the accounting log forwarded)"
            }
            // Junos "syslog (System)": facility interactive-commands logs UI_CMDLINE_READ_LINE.
            Platform::Junos => {
                "commands are not logged: `set system syslog host <collector> \
                 interactive-commands any` (or `set system syslog file interactive-commands \
                 interactive-commands any` forwarded to the collector)"
            }
            // DISA Arista NDM STIG (AMLS-NM-000150): `aaa accounting commands all default
            // start-stop logging` writes %ACCOUNTING-6-CMD.
            Platform::Eos => {
                "commands are not logged: `aaa accounting commands all default start-stop \
                 logging` with `logging host <collector>` and `logging trap informational`"
            }
            // ASA syslog 111008/111010 are level 5 (Cisco ASA Syslog Messages guide).
            Platform::Asa => {
                "commands are not logged: `logging enable`, `logging host <interface> \
                 <collector>` and `logging trap notifications` (or `logging message 111008 level \
                 notifications` and `logging message 111010 level notifications`)"
            }
            // PAN-OS Administrator's Guide, "Configure Syslog Monitoring": software download and
            // install are System log entries.
            Platform::Panos => {
                "software operations are not logged: Device > Server Profiles > Syslog \
                 (<collector>), then Device > Log Settings > System: forward all severities \
                 (software download and install are informational) to that profile"
            }
            // FortiOS CLI reference: `config log syslogd setting`, `config log eventfilter`.
            Platform::Fortigate => {
                "commands are not logged: `config log syslogd setting` / `set status enable` / \
                 `set server <collector>` / `end`, `config log syslogd filter` / `set severity \
                 information` / `end`, and `config log eventfilter` / `set system enable` / `end`"
            }
            Platform::Unknown => {
                "commands are not logged: enable command accounting (CLI audit) to syslog, or \
                 TACACS+ command accounting with its log forwarded to the collector; name the \
                 device's vendor in the inventory for exact configuration"
            }
        }
    }

    /// What makes the device's boots (and the version they start) reach the collector.
    pub(crate) fn boots(self) -> &'static str {
        match self {
            // %SYS-5-RESTART carries the version; it is sent once `logging host` is read from
            // the startup configuration.
            Platform::Ios => {
                "no boot seen: keep `logging host <collector>` and `logging trap informational` \
                 in the startup configuration (`copy running-config startup-config`) so \
                 %SYS-5-RESTART and %SYS-6-BOOTTIME reach the collector after a reload"
            }
            Platform::Nxos => {
                "no boot seen: `logging server <collector> 5` saved to the startup \
                 configuration, so %PLATFORM-2-PFM_SYSTEM_RESET and the boot's \
                 %ASCII-CFG-2-CONF_CONTROL \"System ready\" reach the collector"
            }
            Platform::Junos => {
                "no boot seen: `set system syslog host <collector> any notice` and `set system \
                 syslog host <collector> kernel info` (kernel banner, SNMPD_TRAP_COLD_START, \
                 shutdown notices)"
            }
            Platform::Eos => {
                "no boot seen: `logging host <collector>` and `logging trap informational` in \
                 the startup configuration (%SYS-5-SYSTEM_RESTARTED, %SYS-5-SYSTEM_INITIALIZED)"
            }
            Platform::Asa => {
                "no boot seen: `logging enable`, `logging host <interface> <collector>` and \
                 `logging trap informational` saved with `write memory` (%ASA-6-199002 / 199005 \
                 start-up)"
            }
            Platform::Panos => {
                "no boot seen: Device > Log Settings > System: forward all severities to the \
                 syslog profile (restart and start-up are System log entries)"
            }
            Platform::Fortigate => {
                "no boot seen: `config log eventfilter` / `set system enable` / `end` with \
                 syslogd enabled (restart and firmware events are subtype=system)"
            }
            Platform::Unknown => {
                "no boot seen: send the device's system messages at level informational to the \
                 collector from its startup configuration, so its restart is logged"
            }
        }
    }

    /// For a device whose syslog never arrived.
    pub(crate) fn silent(self) -> &'static str {
        match self {
            Platform::Ios | Platform::Eos => {
                "sent nothing: `logging host <collector>` and `logging trap informational`"
            }
            Platform::Nxos => "sent nothing: `logging server <collector> 6`",
            Platform::Junos => "sent nothing: `set system syslog host <collector> any info`",
            Platform::Asa => {
                "sent nothing: `logging enable`, `logging host <interface> <collector>`, \
                 `logging trap informational`"
            }
            Platform::Panos => {
                "sent nothing: Device > Server Profiles > Syslog (<collector>) and forward \
                 System logs to it in Device > Log Settings"
            }
            Platform::Fortigate => {
                "sent nothing: `config log syslogd setting` / `set status enable` / `set server \
                 <collector>` / `end`"
            }
            Platform::Unknown => "sent nothing: point the device's syslog at the collector",
        }
    }
}
