//! [`KeyTemplate`]: a response key rendered from the request's method, path, path parameters
//! and query.

use std::fmt;

use ::http::request::Parts;

use super::key;

/// A key template for response entries, such as `"post:{id}"` for the route
/// `"/posts/{id}"`.
///
/// Placeholders:
///
/// - `{name}`: the path parameter `name` of the route (`{id}` in `/posts/{id}`, or the rest of
///   the path for `{*name}`);
/// - `{method}`: the method (`GET`; a `HEAD` request renders `GET`, since it is answered from
///   the `GET` entry);
/// - `{host}`: the request's host, as the default key has it: its `Host` header, lowercased,
///   and every other authority the request names (`X-Forwarded-Host`, `Forwarded`, a target
///   in absolute form naming another host); a template without it gives every host the
///   same key, which is right only when the route serves one site and no request can name
///   another (behind a proxy that sets `X-Forwarded-Host` itself);
/// - `{path}`: the whole path;
/// - `{query}`: the query, its parameters sorted by name;
/// - `{query.name}`: the value of the query parameter `name` (empty when absent).
///
/// `{{` and `}}` stand for braces. Every rendered value is escaped with
/// [`crate::key::escape`] (a path keeps its `/` separators), so that no request can render
/// the key of another. A request whose path does not match the route is not cached.
///
/// # Example
///
/// ```
/// use cached_core::http::KeyTemplate;
///
/// let template = KeyTemplate::parse("/posts/{id}", "post:{id}:page={query.page}")?;
/// assert_eq!(template.as_str(), "post:{id}:page={query.page}");
/// assert!(KeyTemplate::parse("/posts/{id}", "post:{slug}").is_err());
/// # Ok::<(), cached_core::http::KeyTemplateError>(())
/// ```
#[derive(Clone, Debug)]
pub struct KeyTemplate {
    source: String,
    route: Vec<Segment>,
    parts: Vec<Part>,
}

/// One segment of the route a template is matched against.
#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
    /// `{*name}`: this segment and every one after it.
    Rest(String),
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq)]
enum Part {
    Literal(String),
    Method,
    Host,
    Path,
    Query,
    QueryParam(String),
    /// A path parameter, by its index in the route.
    Param(usize),
}

/// Why a [`KeyTemplate`] was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyTemplateError {
    template: String,
    message: String,
}

impl fmt::Display for KeyTemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid key template `{}`: {}",
            self.template, self.message
        )
    }
}

impl std::error::Error for KeyTemplateError {}

impl KeyTemplate {
    /// Parses `template` for requests routed by `route` (axum's syntax: `/posts/{id}`,
    /// `/files/{*path}`). Every placeholder must name a path parameter of `route` or one of
    /// `method`, `path`, `query` and `query.<name>`.
    pub fn parse(route: &str, template: &str) -> Result<Self, KeyTemplateError> {
        let error = |message: String| KeyTemplateError {
            template: template.to_owned(),
            message,
        };
        let route = parse_route(route).map_err(error)?;
        let parts = parse_parts(template, &route).map_err(error)?;
        Ok(Self {
            source: template.to_owned(),
            route,
            parts,
        })
    }

    /// The template as it was written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The key for `request`, whose method is taken to be `method`; `None` when its path does
    /// not match the route.
    pub(crate) fn render(&self, method: &str, request: &Parts) -> Option<String> {
        let params = match_route(&self.route, request.uri.path())?;
        let mut out = String::with_capacity(self.source.len() + 16);
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Method => out.push_str(method),
                Part::Host => key::push_host(&mut out, request),
                Part::Path => key::push_path(&mut out, request.uri.path()),
                Part::Query => key::push_query(&mut out, request.uri.query().unwrap_or("")),
                Part::QueryParam(name) => {
                    key::push_query_param(&mut out, request.uri.query().unwrap_or(""), name)
                }
                Part::Param(index) => key::push_path(&mut out, params[*index]),
            }
        }
        Some(out)
    }
}

fn parse_route(route: &str) -> Result<Vec<Segment>, String> {
    let Some(rest) = route.strip_prefix('/') else {
        return Err(format!("the route `{route}` must start with `/`"));
    };
    let mut segments = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    let raw: Vec<&str> = rest.split('/').collect();
    for (index, segment) in raw.iter().enumerate() {
        let parsed = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            None if segment.contains(['{', '}']) => {
                return Err(format!(
                    "route segment `{segment}` must be a literal or a whole `{{name}}`"
                ));
            }
            None => Segment::Literal((*segment).to_owned()),
            Some(name) => {
                let (name, rest) = match name.strip_prefix('*') {
                    Some(name) => (name, true),
                    None => (name, false),
                };
                if !is_identifier(name) {
                    return Err(format!("route parameter `{segment}` is not a valid name"));
                }
                if names.contains(&name) {
                    return Err(format!("route parameter `{name}` appears twice"));
                }
                names.push(name);
                if rest && index + 1 != raw.len() {
                    return Err(format!("`{{*{name}}}` must be the last route segment"));
                }
                if rest {
                    Segment::Rest(name.to_owned())
                } else {
                    Segment::Param(name.to_owned())
                }
            }
        };
        segments.push(parsed);
    }
    Ok(segments)
}

fn parse_parts(template: &str, route: &[Segment]) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '}' => return Err("unmatched `}` (write `}}` for a brace)".to_owned()),
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err("unclosed `{` (write `{{` for a brace)".to_owned()),
                    }
                }
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(placeholder(&name, route)?);
            }
            '|' | '>' => {
                return Err(format!(
                    "`{c}` is reserved: it separates the key from its variants"
                ));
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok(parts)
}

fn placeholder(name: &str, route: &[Segment]) -> Result<Part, String> {
    let param = route.iter().position(|segment| match segment {
        Segment::Param(param) | Segment::Rest(param) => param == name,
        Segment::Literal(_) => false,
    });
    let builtin = match name {
        "method" => Some(Part::Method),
        "host" => Some(Part::Host),
        "path" => Some(Part::Path),
        "query" => Some(Part::Query),
        _ => match name.strip_prefix("query.") {
            Some(query) if !query.is_empty() => Some(Part::QueryParam(query.to_owned())),
            _ => None,
        },
    };
    match (param, builtin) {
        (Some(_), Some(_)) => Err(format!(
            "`{{{name}}}` is both a route parameter and a built-in placeholder; rename the parameter"
        )),
        (Some(index), None) => {
            let index = route[..index]
                .iter()
                .filter(|s| !matches!(s, Segment::Literal(_)))
                .count();
            Ok(Part::Param(index))
        }
        (None, Some(part)) => Ok(part),
        (None, None) => {
            let mut known: Vec<String> = route
                .iter()
                .filter_map(|segment| match segment {
                    Segment::Param(param) | Segment::Rest(param) => Some(format!("{{{param}}}")),
                    Segment::Literal(_) => None,
                })
                .collect();
            known.extend(["{method}", "{path}", "{query}", "{query.<name>}"].map(String::from));
            Err(format!(
                "unknown placeholder `{{{name}}}` (known: {})",
                known.join(", ")
            ))
        }
    }
}

/// The path parameters of `path` in route order, or `None` when it does not match.
fn match_route<'p>(route: &[Segment], path: &'p str) -> Option<Vec<&'p str>> {
    let mut rest = path.strip_prefix('/')?;
    let mut params = Vec::new();
    for (index, segment) in route.iter().enumerate() {
        if let Segment::Rest(_) = segment {
            params.push(rest);
            return Some(params);
        }
        let (current, next) = match rest.split_once('/') {
            Some((current, next)) => (current, Some(next)),
            None => (rest, None),
        };
        match segment {
            Segment::Literal(literal) if literal == current => {}
            Segment::Param(_) if !current.is_empty() => params.push(current),
            _ => return None,
        }
        match next {
            Some(next) if index + 1 < route.len() => rest = next,
            None if index + 1 == route.len() => return Some(params),
            _ => return None,
        }
    }
    None
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str) -> Parts {
        ::http::Request::get(uri).body(()).unwrap().into_parts().0
    }

    fn render(route: &str, template: &str, uri: &str) -> Option<String> {
        KeyTemplate::parse(route, template)
            .unwrap()
            .render("GET", &request(uri))
    }

    #[test]
    fn path_parameters_and_builtins_render_escaped() {
        assert_eq!(
            render("/posts/{id}", "post:{id}", "/posts/42").as_deref(),
            Some("post:42")
        );
        assert_eq!(
            render("/posts/{id}", "post:{id}", "/posts/a:b*").as_deref(),
            Some("post:a%3Ab%2A")
        );
        assert_eq!(
            render(
                "/u/{user}/posts/{id}",
                "{method}:{user}:{id}:{query}",
                "/u/ada/posts/7?z=1&a=2"
            )
            .as_deref(),
            Some("GET:ada:7:a=2&z=1")
        );
        assert_eq!(
            render("/files/{*rest}", "file:{rest}", "/files/a/b%20c").as_deref(),
            Some("file:a/b%2520c")
        );
        assert_eq!(
            render(
                "/search",
                "search:{query.q}",
                "/search?page=2&q=rust%20cache"
            )
            .as_deref(),
            Some("search:rust%2520cache")
        );
        assert_eq!(
            render("/search", "{{literal}}:{path}", "/search").as_deref(),
            Some("{literal}:/search")
        );
    }

    #[test]
    fn a_path_outside_the_route_renders_nothing() {
        assert_eq!(render("/posts/{id}", "post:{id}", "/users/42"), None);
        assert_eq!(
            render("/posts/{id}", "post:{id}", "/posts/42/comments"),
            None
        );
        assert_eq!(render("/posts/{id}", "post:{id}", "/posts/"), None);
        assert_eq!(render("/posts/{id}", "post:{id}", "/posts"), None);
    }

    #[test]
    fn bad_templates_and_routes_are_rejected_with_a_reason() {
        let error = KeyTemplate::parse("/posts/{id}", "post:{slug}").unwrap_err();
        assert!(error.to_string().contains("unknown placeholder `{slug}`"));
        assert!(error.to_string().contains("{id}"));
        for (route, template) in [
            ("posts", "x"),
            ("/posts/{id}/{id}", "x"),
            ("/posts/{*rest}/more", "x"),
            ("/posts/x{id}", "x"),
            ("/posts/{id}", "post:{id"),
            ("/posts/{id}", "post:}"),
            ("/posts/{id}", "post|{id}"),
            ("/posts/{path}", "{path}"),
        ] {
            assert!(
                KeyTemplate::parse(route, template).is_err(),
                "{route} {template}"
            );
        }
    }
}
