//! An EC2 + EFS emulator for what a Studio domain leaves in a VPC: security groups and their
//! rules, network interfaces, EFS file systems and their mount targets, in one state (a mount
//! target's network interface uses security groups), served on one endpoint (the paths do not
//! overlap). EC2's query protocol is in [`ec2`], EFS's restJson in [`efs`]. Signatures are not
//! checked; calls are recorded with their IAM action by the emulator kit.

mod ec2;
mod efs;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use emulator_kit::ids::{epoch_seconds, random_hex};
use emulator_kit::{AwsError, Handle, Output, Protocol, Request, Route, Service};

/// What a revoke of a rule the group does not have answers. AWS documents success with the
/// rule listed in `UnknownIpPermissions`; users report InvalidPermission.NotFound too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownRule {
    Report,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

/// The other end of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Group(String),
    Cidr(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    /// "tcp", "udp", "icmp" or "-1" (all).
    pub protocol: String,
    pub from_port: i64,
    pub to_port: i64,
    pub peer: Peer,
}

#[derive(Debug, Clone)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct NetworkInterface {
    subnet_id: String,
    description: String,
    groups: Vec<String>,
}

#[derive(Debug, Clone)]
struct FileSystem {
    id: String,
    creation_token: String,
    name: Option<String>,
    tags: Vec<(String, String)>,
    created: f64,
    /// When its deletion (mount targets first) started.
    deleting_since: Option<Instant>,
}

#[derive(Debug, Clone)]
struct MountTarget {
    id: String,
    file_system_id: String,
    subnet_id: String,
    vpc_id: String,
    interface_id: String,
    ip: String,
    zone: usize,
}

struct State {
    groups: BTreeMap<String, SecurityGroup>,
    interfaces: BTreeMap<String, NetworkInterface>,
    file_systems: Vec<FileSystem>,
    mount_targets: Vec<MountTarget>,
    /// How long each of the two steps of an EFS deletion takes (mount targets, then the file system).
    efs_delete_delay: Duration,
    unknown_rule: UnknownRule,
    page_size: usize,
}

/// A running EC2 + EFS emulator; clones share it. The server stops with the last clone.
/// Derefs to the kit's [`Emulator`](emulator_kit::Emulator) (endpoint, calls, faults).
#[derive(Clone)]
pub struct Network(Handle<State>);

emulator_kit::deref_to_emulator!(Network);

impl Network {
    pub async fn start() -> std::io::Result<Self> {
        let state = State {
            groups: BTreeMap::new(),
            interfaces: BTreeMap::new(),
            file_systems: Vec::new(),
            mount_targets: Vec::new(),
            efs_delete_delay: Duration::from_millis(200),
            unknown_rule: UnknownRule::Report,
            page_size: 5,
        };
        // One endpoint for AWS_ENDPOINT_URL_EC2 and AWS_ENDPOINT_URL_EFS: the paths do not overlap.
        Ok(Self(Handle::start(state).await?))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        let mut state = self.0.state();
        state.advance();
        state
    }

    /// A group with EC2's default rule (all egress to 0.0.0.0/0); returns its id.
    pub fn create_security_group(&self, vpc_id: &str, name: &str, description: &str) -> String {
        let id = format!("sg-{}", random_hex(17));
        let default_egress = Rule { id: rule_id(), protocol: "-1".into(), from_port: -1, to_port: -1, peer: Peer::Cidr("0.0.0.0/0".into()) };
        let group = SecurityGroup {
            id: id.clone(),
            name: name.to_string(),
            description: description.to_string(),
            vpc_id: vpc_id.to_string(),
            ingress: Vec::new(),
            egress: vec![default_egress],
        };
        self.state().groups.insert(id.clone(), group);
        id
    }

    /// Adds a TCP rule on `port` between `group_id` and the group `peer_id`; returns the rule id.
    pub fn authorize_group(&self, group_id: &str, direction: Direction, port: i64, peer_id: &str) -> Option<String> {
        let rule = Rule { id: rule_id(), protocol: "tcp".into(), from_port: port, to_port: port, peer: Peer::Group(peer_id.to_string()) };
        let id = rule.id.clone();
        let mut state = self.state();
        let group = state.groups.get_mut(group_id)?;
        match direction {
            Direction::Ingress => group.ingress.push(rule),
            Direction::Egress => group.egress.push(rule),
        }
        Some(id)
    }

    /// Removes a group's rules in one direction (as CreateSecurityGroup callers do with the
    /// default egress rule).
    pub fn clear_rules(&self, group_id: &str, direction: Direction) {
        if let Some(group) = self.state().groups.get_mut(group_id) {
            match direction {
                Direction::Ingress => group.ingress.clear(),
                Direction::Egress => group.egress.clear(),
            }
        }
    }

    /// A network interface using `groups` (an app's ENI, a mount target's ...); returns its id.
    pub fn create_network_interface(&self, subnet_id: &str, description: &str, groups: &[String]) -> String {
        let id = format!("eni-{}", random_hex(17));
        let interface = NetworkInterface { subnet_id: subnet_id.to_string(), description: description.to_string(), groups: groups.to_vec() };
        self.state().interfaces.insert(id.clone(), interface);
        id
    }

    pub fn delete_network_interface(&self, id: &str) {
        self.state().interfaces.remove(id);
    }

    /// Groups as DescribeSecurityGroups shows them.
    pub fn security_groups(&self) -> Vec<SecurityGroup> {
        self.state().groups.values().cloned().collect()
    }

    pub fn security_group(&self, id: &str) -> Option<SecurityGroup> {
        self.state().groups.get(id).cloned()
    }

    /// The id of the group with this name in this VPC.
    pub fn security_group_named(&self, vpc_id: &str, name: &str) -> Option<String> {
        self.state().groups.values().find(|g| g.vpc_id == vpc_id && g.name == name).map(|g| g.id.clone())
    }

    /// The subnets of the network interfaces that use a group.
    pub fn interfaces_using(&self, group_id: &str) -> Vec<String> {
        let state = self.state();
        state.interfaces.iter().filter(|(_, i)| i.groups.iter().any(|g| g == group_id)).map(|(id, i)| format!("{id} ({})", i.subnet_id)).collect()
    }

    /// An available file system; returns its id.
    pub fn create_file_system(&self, creation_token: &str, name: Option<&str>, tags: &[(&str, &str)]) -> String {
        let id = format!("fs-{}", random_hex(17));
        let file_system = FileSystem {
            id: id.clone(),
            creation_token: creation_token.to_string(),
            name: name.map(str::to_string),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            created: epoch_seconds(),
            deleting_since: None,
        };
        self.state().file_systems.push(file_system);
        id
    }

    /// An available mount target of `file_system_id` in `subnet_id`, with a network interface
    /// using `groups`; returns its id (None when there is no such file system).
    pub fn create_mount_target(&self, file_system_id: &str, vpc_id: &str, subnet_id: &str, groups: &[String]) -> Option<String> {
        if !self.state().file_systems.iter().any(|f| f.id == file_system_id) {
            return None;
        }
        let id = format!("fsmt-{}", random_hex(17));
        // As EFS describes the interfaces it makes.
        let interface_id = self.create_network_interface(subnet_id, &format!("EFS mount target for {file_system_id} ({id})"), groups);
        let mut state = self.state();
        let zone = state.mount_targets.iter().filter(|m| m.file_system_id == file_system_id).count();
        state.mount_targets.push(MountTarget {
            id: id.clone(),
            file_system_id: file_system_id.to_string(),
            subnet_id: subnet_id.to_string(),
            vpc_id: vpc_id.to_string(),
            interface_id,
            ip: format!("10.0.{}.{}", zone, fastrand::u8(4..250)),
            zone,
        });
        Some(id)
    }

    /// Starts deleting a file system: its mount targets (and their network interfaces) go after
    /// one EFS delete delay, the file system after a second one.
    pub fn delete_file_system_later(&self, file_system_id: &str) {
        let mut state = self.state();
        if let Some(fs) = state.file_systems.iter_mut().find(|f| f.id == file_system_id) {
            fs.deleting_since.get_or_insert_with(Instant::now);
        }
    }

    /// The file system's LifeCycleState, None once it is gone.
    pub fn file_system_state(&self, file_system_id: &str) -> Option<&'static str> {
        let state = self.state();
        let fs = state.file_systems.iter().find(|f| f.id == file_system_id)?;
        Some(state.file_system_life(fs))
    }

    /// Ids of the mount targets of a file system.
    pub fn mount_targets(&self, file_system_id: &str) -> Vec<String> {
        self.state().mount_targets.iter().filter(|m| m.file_system_id == file_system_id).map(|m| m.id.clone()).collect()
    }

    /// How long each step of an EFS deletion takes; applies to deletions in progress too.
    pub fn set_efs_delete_delay(&self, delay: Duration) {
        self.state().efs_delete_delay = delay;
    }

    pub fn set_unknown_rule(&self, behaviour: UnknownRule) {
        self.state().unknown_rule = behaviour;
    }

    /// The most items a Describe* page holds (less when MaxResults / MaxItems asks for less).
    pub fn set_page_size(&self, size: usize) {
        self.state().page_size = size.max(1);
    }
}

fn rule_id() -> String {
    format!("sgr-{}", random_hex(17))
}

impl State {
    /// Applies the EFS deletions that are due: mount targets after one delay, the file system
    /// after two.
    fn advance(&mut self) {
        let (now, delay) = (Instant::now(), self.efs_delete_delay);
        let elapsed = |fs: &FileSystem| fs.deleting_since.map(|since| now.saturating_duration_since(since));
        let mounts_gone: Vec<String> = self.file_systems.iter().filter(|fs| elapsed(fs).is_some_and(|e| e >= delay)).map(|fs| fs.id.clone()).collect();
        let interfaces = &mut self.interfaces;
        self.mount_targets.retain(|m| {
            let gone = mounts_gone.contains(&m.file_system_id);
            if gone {
                interfaces.remove(&m.interface_id);
            }
            !gone
        });
        self.file_systems.retain(|fs| elapsed(fs).is_none_or(|e| e < delay * 2));
    }

    fn file_system_life(&self, fs: &FileSystem) -> &'static str {
        let mounted = self.mount_targets.iter().any(|m| m.file_system_id == fs.id);
        match fs.deleting_since {
            None => "available",
            // AWS deletes a file system only once it has no mount targets.
            Some(_) if mounted => "available",
            Some(_) => "deleting",
        }
    }
}

impl Service for State {
    fn route(request: &Request) -> Route {
        match request.path.strip_prefix(efs::PATH) {
            Some(resource) => efs::route(&request.method, resource),
            None => ec2::route(request),
        }
    }

    /// EFS deletions due by now happen first.
    fn call(&mut self, route: &Route, request: &Request) -> Result<Output, AwsError> {
        self.advance();
        match route.protocol {
            Protocol::RestJson => efs::call(self, route, request).map(Output::Json),
            _ => ec2::call(self, route, request).map(Output::Xml),
        }
    }
}
