//! The table of routes by pattern, for what must be known about a request whatever its outcome:
//! the route label of its log line and metrics (the pattern, never the concrete names), whether
//! it is public (CORS) and which methods its path allows (405 `Allow`). The warp filters in
//! `public` and `private` do the routing; a test checks both agree.

use warp::http::Method;

/// One route: method, pattern (`{x}` matches one non-empty segment), public or not.
pub type RouteSpec = (&'static str, &'static str, bool);

pub const API_ROUTES: &[RouteSpec] = &[
    ("POST", "/api/clients", true),
    ("GET", "/api/clients", false),
    ("GET", "/api/clients/{name}", false),
    ("PATCH", "/api/clients/{name}", true),
    ("DELETE", "/api/clients/{name}", true),
    ("GET", "/api/clients/{name}/ping", true),
    ("POST", "/api/clients/{name}/ping", true),
    ("GET", "/api/clients/{name}/activity", false),
    ("PATCH", "/api/sketches/{name}", true),
    ("GET", "/api/campaigns", false),
    ("POST", "/api/campaigns", false),
    ("GET", "/api/campaigns/{name}", false),
    ("PUT", "/api/campaigns/{name}", false),
    ("DELETE", "/api/campaigns/{name}", false),
    ("GET", "/api/campaigns/{name}/results", false),
    ("GET", "/api/campaigns/{name}/results/{day}", false),
    ("GET", "/api/activity", false),
    ("GET", "/api/stats", false),
    ("GET", "/api/openapi.json", true),
];

/// Label of requests whose path matches no route.
pub const UNMATCHED: &str = "unmatched";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// The pattern of the path, when some route has it.
    pub pattern: Option<&'static str>,
    /// A public route (or the CORS preflight of one): CORS headers are added.
    pub public: bool,
    /// The methods the path allows.
    pub allow: Vec<&'static str>,
}

impl RouteMatch {
    pub fn label(&self) -> &'static str {
        self.pattern.unwrap_or(UNMATCHED)
    }
}

/// Whether `path` has the shape of `pattern`. One trailing slash is ignored, as warp does.
pub fn matches(pattern: &str, path: &str) -> bool {
    let path = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') => {
                if g.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

/// Classifies a request against `table`. On a public path, OPTIONS is the CORS preflight.
pub fn classify_in(table: &[RouteSpec], method: &Method, path: &str) -> RouteMatch {
    let Some(&(_, pattern, _)) = table.iter().find(|(_, p, _)| matches(p, path)) else {
        return RouteMatch {
            pattern: None,
            public: false,
            allow: Vec::new(),
        };
    };
    let same: Vec<&RouteSpec> = table.iter().filter(|(_, p, _)| *p == pattern).collect();
    let any_public = same.iter().any(|(_, _, public)| *public);
    let mut allow: Vec<&'static str> = same.iter().map(|(m, _, _)| *m).collect();
    if any_public {
        allow.push("OPTIONS");
    }
    let public = match same.iter().find(|(m, _, _)| *m == method.as_str()) {
        Some((_, _, public)) => *public,
        // The preflight, or a wrong method on a path the extension uses.
        None => any_public,
    };
    RouteMatch {
        pattern: Some(pattern),
        public,
        allow,
    }
}

/// Classifies a request to the API.
pub fn classify(method: &Method, path: &str) -> RouteMatch {
    classify_in(API_ROUTES, method, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_one_segment_per_placeholder() {
        assert!(matches("/api/clients/{name}/ping", "/api/clients/abc/ping"));
        assert!(!matches("/api/clients/{name}/ping", "/api/clients//ping"));
        assert!(!matches("/api/clients/{name}", "/api/clients/abc/ping"));
        assert!(matches("/api/clients", "/api/clients/"));
        assert!(!matches("/api/clients", "/api/clients//"));
        assert!(matches("/api/stats", "/api/stats"));
    }

    #[test]
    fn classify_knows_public_private_and_allowed_methods() {
        let m = classify(&Method::GET, "/api/clients/abc");
        assert_eq!(m.pattern, Some("/api/clients/{name}"));
        assert!(!m.public);
        assert_eq!(m.allow, vec!["GET", "PATCH", "DELETE", "OPTIONS"]);
        assert!(classify(&Method::PATCH, "/api/clients/abc").public);
        assert!(classify(&Method::OPTIONS, "/api/sketches/s").public);
        let c = classify(&Method::POST, "/api/campaigns/x");
        assert!(!c.public);
        assert_eq!(c.allow, vec!["GET", "PUT", "DELETE"]);
        assert_eq!(classify(&Method::GET, "/nope").label(), UNMATCHED);
    }
}
