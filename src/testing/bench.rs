//! What the benches share around their workloads: settings from the environment and this
//! process's memory as the kernel reports it.

/// The environment variable `name` parsed, or `default` when it is unset or does not parse.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// This process's resident memory now and at its peak, from `/proc/self/status`:
/// `VmRSS 822 MiB  VmHWM 878 MiB` (`?` where the kernel does not say).
pub fn memory_figures() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    memory_figures_in(&status)
}

fn memory_figures_in(status: &str) -> String {
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or("?".to_string(), |kb| format!("{} MiB", kb / 1024))
    };
    format!("VmRSS {}  VmHWM {}", field("VmRSS:"), field("VmHWM:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_figures_read_the_kernels_kilobytes_as_mebibytes() {
        let status = "Name:\tpdd\nVmHWM:\t  899072 kB\nVmRSS:\t  841728 kB\n";
        assert_eq!(memory_figures_in(status), "VmRSS 822 MiB  VmHWM 878 MiB");
        assert_eq!(memory_figures_in(""), "VmRSS ?  VmHWM ?");
    }

    #[test]
    fn env_or_falls_back_when_unset_or_unparsable() {
        assert_eq!(env_or("PDD_TESTING_SURELY_UNSET_VARIABLE", 7u32), 7);
    }
}
