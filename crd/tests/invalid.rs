//! Invalid Apps and Platforms, each rejected with the offending field and a message that says
//! what to do. Admission cases go through `manifest::parse` (strict fields + the CRDs' CEL
//! rules, as `kubectl apply` would); guardrails and resolve-time rules go through `render`.

mod common;

use baseplate_crd::error::{ManifestError, PolicyViolation};
use baseplate_crd::{FieldError, RenderError, manifest};
use common::{app_with_spec, platform_with_spec, try_render};

/// One admission case: the document's `spec` (or a whole document when it starts with
/// `apiVersion`), the field the error must name and a fragment of its message.
struct Case {
    name: &'static str,
    kind: Kind,
    yaml: &'static str,
    field: &'static str,
    message: &'static str,
}

#[derive(Clone, Copy)]
enum Kind {
    App,
    Platform,
}

const fn app(
    name: &'static str,
    yaml: &'static str,
    field: &'static str,
    message: &'static str,
) -> Case {
    Case {
        name,
        kind: Kind::App,
        yaml,
        field,
        message,
    }
}

const fn platform(
    name: &'static str,
    yaml: &'static str,
    field: &'static str,
    message: &'static str,
) -> Case {
    Case {
        name,
        kind: Kind::Platform,
        yaml,
        field,
        message,
    }
}

const PORT: &str = "ports: [{name: http, containerPort: 8080}]";

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Strict fields: typos and wrong types are errors, never silently ignored.
    app("typo imagee", "imagee: nginx:1.27", "spec.imagee", "unknown field `imagee`"),
    app("typo replica", "image: nginx:1.27\nreplica: 3", "spec.replica", "unknown field `replica`"),
    app("typo in a probe", "image: nginx:1.27\nports: [{name: http, containerPort: 80}]\nreadinessProbe: {paht: /ready}", "spec.readinessProbe.paht", "remove it or fix its spelling"),
    app("missing image", "replicas: 2", "spec", "missing field `image`"),
    app("replicas as a word", "image: nginx:1.27\nreplicas: three", "spec.replicas", "invalid type"),
    app("ports as a map", "image: nginx:1.27\nports: {http: 80}", "spec.ports", "invalid type"),
    app("unknown protocol", "image: nginx:1.27\nports: [{name: http, containerPort: 80, protocol: HTTP}]", "spec.ports[0].protocol", "unknown variant `HTTP`"),
    // Values.
    app("empty image", "image: ''", "spec.image", "non-empty image reference"),
    app("image with a space", "image: 'nginx 1.27'", "spec.image", "without spaces"),
    app("uppercase port name", "image: nginx:1.27\nports: [{name: HTTP, containerPort: 80}]", "spec.ports[0].name", "port name must be at most 15 lowercase"),
    app("port name too long", "image: nginx:1.27\nports: [{name: very-long-port-name, containerPort: 80}]", "spec.ports[0].name", "port name must be"),
    app("numeric port name", "image: nginx:1.27\nports: [{name: '8080', containerPort: 80}]", "spec.ports[0].name", "at least one letter"),
    app("duplicate port names", "image: nginx:1.27\nports: [{name: http, containerPort: 80}, {name: http, containerPort: 81}]", "spec.ports", "port names must be unique"),
    app("duplicate containerPort", "image: nginx:1.27\nports: [{name: http, containerPort: 80}, {name: alt, containerPort: 80}]", "spec.ports", "containerPort numbers must be unique"),
    app("port above 65535", "image: nginx:1.27\nports: [{name: http, containerPort: 70000}]", "spec.ports[0].containerPort", "between 1 and 65535"),
    app("port zero", "image: nginx:1.27\nports: [{name: http, containerPort: 0}]", "spec.ports[0].containerPort", "between 1 and 65535"),
    app("negative replicas", "image: nginx:1.27\nreplicas: -1", "spec.replicas", "between 0 and 1000"),
    app("replicas and autoscaling", "image: nginx:1.27\nreplicas: 3\nautoscaling: {maxReplicas: 5}", "spec.replicas", "set either spec.replicas"),
    app("min above max replicas", "image: nginx:1.27\nautoscaling: {minReplicas: 5, maxReplicas: 3}", "spec.autoscaling.minReplicas", "must not exceed autoscaling.maxReplicas"),
    app("cpu target 0", "image: nginx:1.27\nautoscaling: {targetCPUUtilizationPercentage: 0}", "spec.autoscaling.targetCPUUtilizationPercentage", "between 1 and 100"),
    app("probe port that does not exist", "image: nginx:1.27\nports: [{name: http, containerPort: 80}]\nreadinessProbe: {port: admin}", "spec.readinessProbe", "must name one of this container's ports"),
    app("liveness probe without ports", "image: nginx:1.27\nlivenessProbe: {path: /live}", "spec.livenessProbe", "a container with no ports needs one"),
    app("startup probe port missing", "image: nginx:1.27\nports: [{name: http, containerPort: 80}]\nstartupProbe: {port: grpc}", "spec.startupProbe", "startupProbe.port must name"),
    app("sidecar probe port missing", "image: nginx:1.27\nsidecars: [{name: proxy, image: envoy:1, readinessProbe: {port: admin}}]", "spec.sidecars[0].readinessProbe", "must name one of this container's ports"),
    app("probe path without slash", "image: nginx:1.27\nports: [{name: http, containerPort: 80}]\nreadinessProbe: {path: healthz}", "spec.readinessProbe.path", "must start with '/'"),
    app("env name starting with a digit", "image: nginx:1.27\nenv: {1FOO: bar}", "spec.env", "environment variable names"),
    app("env name with a dash", "image: nginx:1.27\nenv: {MY-VAR: bar}", "spec.env", "environment variable names"),
    app("env key also in config.env", "image: nginx:1.27\nenv: {MODE: a}\nconfig: {env: {MODE: b}}", "spec.env", "both spec.env and spec.config.env"),
    app("env key also a config file", "image: nginx:1.27\nenv: {settings: a}\nconfig: {files: {settings: 'x = 1'}}", "spec.env", "spec.config.files"),
    app("config.env key also a config file", "image: nginx:1.27\nconfig: {env: {app: a}, files: {app: b}}", "spec.config.files", "both as a config.env key and a config.files name"),
    app("key generated and supplied", "image: nginx:1.27\nsecrets: {generate: [TOKEN], supplied: [TOKEN]}", "spec.secrets.supplied", "both secrets.generate and secrets.supplied"),
    app("secret key also in env", "image: nginx:1.27\nenv: {TOKEN: plain}\nsecrets: {generate: [TOKEN]}", "spec.secrets", "a key in spec.env is also declared in spec.secrets"),
    app("secret key also in config.env", "image: nginx:1.27\nconfig: {env: {TOKEN: plain}}\nsecrets: {supplied: [TOKEN]}", "spec.secrets", "spec.config.env is also declared in spec.secrets"),
    app("duplicate generated key", "image: nginx:1.27\nsecrets: {generate: [TOKEN, TOKEN]}", "spec.secrets.generate", "must be unique"),
    app("secret key not an env name", "image: nginx:1.27\nsecrets: {supplied: [api-key]}", "spec.secrets.supplied", "environment variable names"),
    app("config file name with a slash", "image: nginx:1.27\nconfig: {files: {conf/app.yaml: x}}", "spec.config.files", "config file names"),
    app("config file named ..", "image: nginx:1.27\nconfig: {files: {'..': x}}", "spec.config.files", "config file names"),
    app("relative mountPath", "image: nginx:1.27\nconfig: {mountPath: etc/app}", "spec.config.mountPath", "absolute directory"),
    app("mountPath over /tmp", "image: nginx:1.27\nconfig: {mountPath: /tmp}", "spec.config.mountPath", "other than / and /tmp"),
    app("sidecar named app", "image: nginx:1.27\nsidecars: [{name: app, image: envoy:1}]", "spec.sidecars[0].name", "other than 'app'"),
    app("sidecar name uppercase", "image: nginx:1.27\nsidecars: [{name: Proxy, image: envoy:1}]", "spec.sidecars[0].name", "DNS-1123 label"),
    app("duplicate sidecar names", "image: nginx:1.27\nsidecars: [{name: proxy, image: envoy:1}, {name: proxy, image: envoy:2}]", "spec.sidecars", "sidecar names must be unique"),
    app("sidecar without image", "image: nginx:1.27\nsidecars: [{name: proxy, image: ''}]", "spec.sidecars[0].image", "non-empty image reference"),
    app("ingress without ports", "image: nginx:1.27\ningress: {host: shop.example.com}", "spec.ingress", "needs at least one entry in spec.ports"),
    app("ingress port unknown", "image: nginx:1.27\nports: [{name: http, containerPort: 80}]\ningress: {port: grpc}", "spec.ingress.port", "must name one of spec.ports"),
    app("ingress host uppercase", "image: nginx:1.27\nports: [{name: http, containerPort: 80}]\ningress: {host: Shop.Example.com}", "spec.ingress.host", "lowercase DNS name"),
    app("ingress host with a scheme", "image: nginx:1.27\nports: [{name: http, containerPort: 80}]\ningress: {host: 'https://shop.example.com'}", "spec.ingress.host", "lowercase DNS name"),
    app("ingress path without slash", "image: nginx:1.27\nports: [{name: http, containerPort: 80}]\ningress: {paths: [api]}", "spec.ingress.paths", "must start with '/'"),
    app("bad cpu quantity", "image: nginx:1.27\nresources: {cpu: lots}", "spec.resources.cpu", "positive Kubernetes quantity"),
    app("negative memory", "image: nginx:1.27\nresources: {memory: -1Gi}", "spec.resources.memory", "positive Kubernetes quantity"),
    app("zero cpu limit", "image: nginx:1.27\nresources: {cpuLimit: '0'}", "spec.resources.cpuLimit", "positive Kubernetes quantity"),
    app("memory in bytes with a typo", "image: nginx:1.27\nresources: {memoryLimit: 1GB}", "spec.resources.memoryLimit", "such as 128Mi or 1Gi"),
    app("podLabels with app.kubernetes.io", "image: nginx:1.27\npodLabels: {app.kubernetes.io/name: other}", "spec.podLabels", "Baseplate owns them"),
    app("podLabels with baseplate.dev", "image: nginx:1.27\npodLabels: {baseplate.dev/app: other}", "spec.podLabels", "Baseplate owns them"),
    app("podAnnotations with baseplate.dev", "image: nginx:1.27\npodAnnotations: {baseplate.dev/config-hash: x}", "spec.podAnnotations", "Baseplate owns them"),
    app("uppercase App name", "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {name: MyApp}\nspec: {image: nginx:1.27}", "metadata.name", "DNS-1035 label"),
    app("App name of 64 characters", "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {name: a123456789012345678901234567890123456789012345678901234567890123}\nspec: {image: nginx:1.27}", "metadata.name", "at most 63 characters"),
    app("App name starting with a digit", "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {name: 1st-app}\nspec: {image: nginx:1.27}", "metadata.name", "starting with a letter"),
    app("App name ending with a dash", "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {name: app-}\nspec: {image: nginx:1.27}", "metadata.name", "DNS-1035 label"),
    app("App name with a dot", "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {name: my.app}\nspec: {image: nginx:1.27}", "metadata.name", "DNS-1035 label"),
    // Platforms.
    platform("typo in defaults", "default: {replicas: 2}", "spec.default", "unknown field `default`"),
    platform("typo in limits", "limits: {maxReplica: 5}", "spec.limits.maxReplica", "unknown field `maxReplica`"),
    platform("bad whenUnsatisfiable", "defaults: {topologySpread: {whenUnsatisfiable: Never}}", "spec.defaults.topologySpread.whenUnsatisfiable", "ScheduleAnyway or DoNotSchedule"),
    platform("hostTemplate without {name}", "defaults: {ingress: {hostTemplate: '{namespace}.apps.example.com'}}", "spec.defaults.ingress.hostTemplate", "must contain {name}"),
    platform("rollingUpdate both zero", "defaults: {rollingUpdate: {maxSurge: 0, maxUnavailable: 0}}", "spec.defaults.rollingUpdate", "cannot both be zero"),
    platform("rollingUpdate both zero percent", "defaults: {rollingUpdate: {maxSurge: 0%, maxUnavailable: '0'}}", "spec.defaults.rollingUpdate", "cannot both be zero"),
    platform("labels with app.kubernetes.io", "defaults: {labels: {app.kubernetes.io/part-of: x}}", "spec.defaults.labels", "Baseplate owns them"),
    platform("annotations with baseplate.dev", "defaults: {annotations: {baseplate.dev/app: x}}", "spec.defaults.annotations", "Baseplate owns them"),
    platform("bad maxCpu", "limits: {maxCpu: four}", "spec.limits.maxCpu", "positive Kubernetes quantity"),
    platform("bad default memory", "defaults: {resources: {memory: 128MB}}", "spec.defaults.resources.memory", "positive Kubernetes quantity"),
    platform("priority out of range", "priority: 5000", "spec.priority", "between -1000 and 1000"),
    platform("configMountPath /", "defaults: {configMountPath: /}", "spec.defaults.configMountPath", "other than / and /tmp"),
    platform("progress deadline too short", "defaults: {progressDeadlineSeconds: 10}", "spec.defaults.progressDeadlineSeconds", "between 30 and 7200"),
    platform("maxReplicas limit of 0", "limits: {maxReplicas: 0}", "spec.limits.maxReplicas", "at least 1"),
    platform("default autoscaling min above max", "defaults: {autoscaling: {minReplicas: 9, maxReplicas: 3}}", "spec.defaults.autoscaling.minReplicas", "must not exceed"),
    // Guardrails that cannot be bypassed: image references, read with the OCI grammar.
    app("image with an uppercase repository", "image: Nginx:1.27", "spec.image", "(got \"Nginx:1.27\"; it does not follow the grammar"),
    app("image with an uppercase first path component", "image: Team/app:1", "spec.image", "(got \"Team/app:1\"; its repository has uppercase letters)"),
    app("image with an uppercase path below a registry", "image: registry.example.com/Team/app:1", "spec.image", "with a lowercase repository"),
    app("image with a scheme", "image: 'https://registry.example.com/app:1'", "spec.image", "it starts with a scheme"),
    app("image with a tab", "image: \"nginx\\t:1\"", "spec.image", "it contains a space or a control character"),
    app("image with a line break", "image: \"nginx:1\\n\"", "spec.image", "it contains a space or a control character"),
    app("image with a trailing space", "image: 'nginx:1.27 '", "spec.image", "it contains a space"),
    app("image with a leading space", "image: ' nginx:1.27'", "spec.image", "it contains a space"),
    app("image with a short digest", "image: nginx@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "spec.image", "its digest is not <algorithm>:<hex>"),
    app("image with a truncated digest", "image: nginx@sha256:abc", "spec.image", "it does not follow the grammar"),
    app("image with an uppercase digest", "image: nginx@sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "spec.image", "its digest has uppercase hex digits"),
    app("image with an unknown digest algorithm", "image: nginx@md5:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "spec.image", "is not sha256, sha384 or sha512"),
    app("image with an empty tag", "image: 'nginx:'", "spec.image", "it does not follow the grammar"),
    app("image with a non-ASCII tag", "image: 'nginx:t\u{e4}g'", "spec.image", "not ASCII"),
    app("image that is an image ID", "image: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'", "spec.image", "reads as an image ID"),
    app("image with a double slash", "image: registry.example.com//app:1", "spec.image", "it does not follow the grammar"),
    app("image with a bad port", "image: 'registry.example.com:port/app:1'", "spec.image", "it does not follow the grammar"),
    app("image name over 255 characters", "image: registry.example.com/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1", "spec.image", "longer than 255 characters"),
    app("sidecar image with an uppercase repository", "image: nginx:1.27\nsidecars: [{name: proxy, image: Envoy:1}]", "spec.sidecars[0].image", "(got \"Envoy:1\""),
    app("sidecar image with a scheme", "image: nginx:1.27\nsidecars: [{name: proxy, image: 'http://envoy:1'}]", "spec.sidecars[0].image", "it starts with a scheme"),
    // allowedRegistries entries: a registry host, optionally with a repository path.
    platform("empty allowedRegistries entry", "limits: {allowedRegistries: ['']}", "spec.limits.allowedRegistries[0]", "(got \"\")"),
    platform("allowedRegistries entry with a scheme", "limits: {allowedRegistries: ['https://registry.example.com']}", "spec.limits.allowedRegistries[0]", "without a scheme, tag or spaces (got \"https://registry.example.com\")"),
    platform("allowedRegistries entry with a space", "limits: {allowedRegistries: ['registry.example.com ']}", "spec.limits.allowedRegistries[0]", "allowedRegistries entries must be a lowercase registry host"),
    platform("allowedRegistries entry in uppercase", "limits: {allowedRegistries: [Registry.Example.com]}", "spec.limits.allowedRegistries[0]", "lowercase registry host"),
    platform("allowedRegistries entry with a tag", "limits: {allowedRegistries: ['registry.example.com/team/api:1.0']}", "spec.limits.allowedRegistries[0]", "without a scheme, tag or spaces"),
    platform("allowedRegistries entry without a registry host", "limits: {allowedRegistries: [library/nginx]}", "spec.limits.allowedRegistries[0]", "(got \"library/nginx\")"),
    platform("allowedRegistries entry that is a bare word", "limits: {allowedRegistries: [registry]}", "spec.limits.allowedRegistries[0]", "optionally followed by a repository path"),
    platform("allowedRegistries entry with a wildcard", "limits: {allowedRegistries: ['*.example.com']}", "spec.limits.allowedRegistries[0]", "(got \"*.example.com\")"),
    platform("allowedRegistries entry with a double slash", "limits: {allowedRegistries: [registry.example.com/, 'registry.example.com//team']}", "spec.limits.allowedRegistries[1]", "(got \"registry.example.com//team\")"),
    // Quantities exactly as the API server reads them (kube's client-side CEL trims spaces).
    app("cpu with a trailing space", "image: nginx:1.27\nresources: {cpu: '100m '}", "spec.resources.cpu", "(got \"100m \"; it contains a space)"),
    app("cpu with a leading space", "image: nginx:1.27\nresources: {cpu: ' 100m'}", "spec.resources.cpu", "it contains a space"),
    app("memory with a space before the suffix", "image: nginx:1.27\nresources: {memory: '128 Mi'}", "spec.resources.memory", "it contains a space"),
    app("memory with a lowercase binary suffix", "image: nginx:1.27\nresources: {memory: 128mi}", "spec.resources.memory", "its suffix is not one Kubernetes knows"),
    app("memory in kilobytes as KB", "image: nginx:1.27\nresources: {memory: 512KB}", "spec.resources.memory", "such as 128Mi or 1Gi"),
    app("memory with a byte suffix", "image: nginx:1.27\nresources: {memoryLimit: 1GiB}", "spec.resources.memoryLimit", "not a suffix"),
    app("memory with a decimal comma", "image: nginx:1.27\nresources: {memory: '1,5Gi'}", "spec.resources.memory", "not a suffix"),
    app("memory exponent without digits", "image: nginx:1.27\nresources: {memory: 1e}", "spec.resources.memory", "its suffix is not one Kubernetes knows"),
    app("memory suffix without a number", "image: nginx:1.27\nresources: {memory: Pi}", "spec.resources.memory", "it has no digits"),
    app("cpu of zero millicores", "image: nginx:1.27\nresources: {cpu: 0m}", "spec.resources.cpu", "(got \"0m\"; it is zero)"),
    app("cpu of a lone dot", "image: nginx:1.27\nresources: {cpu: '.'}", "spec.resources.cpu", "it is zero"),
    app("cpu negative in exponent form", "image: nginx:1.27\nresources: {cpuLimit: '-1e3'}", "spec.resources.cpuLimit", "it is negative"),
    app("sidecar cpu with a trailing space", "image: nginx:1.27\nsidecars: [{name: proxy, image: envoy:1, resources: {cpu: '50m '}}]", "spec.sidecars[0].resources.cpu", "it contains a space"),
    platform("maxMemory with a trailing space", "limits: {maxMemory: '8Gi '}", "spec.limits.maxMemory", "(got \"8Gi \"; it contains a space)"),
    platform("maxCpu with two dots", "limits: {maxCpu: '1.5.0'}", "spec.limits.maxCpu", "positive Kubernetes quantity"),
    platform("default cpuLimit with a unit typo", "defaults: {resources: {cpuLimit: 2cores}}", "spec.defaults.resources.cpuLimit", "positive Kubernetes quantity"),
    // namespaceSelector is a real label selector.
    platform("namespaceSelector with matchLabel", "namespaceSelector: {matchLabel: {team: payments}}", "spec.namespaceSelector.matchLabel", "unknown field `matchLabel`; remove it or fix its spelling (did you mean `matchLabels`?)"),
    platform("namespaceSelector with matchExpression", "namespaceSelector: {matchExpression: [{key: team, operator: Exists}]}", "spec.namespaceSelector.matchExpression", "did you mean `matchExpressions`?"),
    platform("selector requirement with value", "namespaceSelector: {matchExpressions: [{key: team, operator: In, value: [payments]}]}", "spec.namespaceSelector.matchExpressions[0].value", "did you mean `values`?"),
    platform("selector with an unknown operator", "namespaceSelector: {matchExpressions: [{key: team, operator: Equals, values: [payments]}]}", "spec.namespaceSelector.matchExpressions[0].operator", "Unsupported value: \"Equals\": supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\""),
    platform("selector with a lowercase operator", "namespaceSelector: {matchExpressions: [{key: team, operator: in, values: [payments]}]}", "spec.namespaceSelector.matchExpressions[0].operator", "Unsupported value: \"in\""),
    platform("selector In without values", "namespaceSelector: {matchExpressions: [{key: team, operator: In}]}", "spec.namespaceSelector.matchExpressions[0].values", "operator In and NotIn need at least one entry in values"),
    platform("selector NotIn with empty values", "namespaceSelector: {matchExpressions: [{key: team, operator: NotIn, values: []}]}", "spec.namespaceSelector.matchExpressions[0].values", "need at least one entry in values"),
    platform("selector Exists with values", "namespaceSelector: {matchExpressions: [{key: team, operator: Exists, values: [payments]}]}", "spec.namespaceSelector.matchExpressions[0].values", "operator Exists and DoesNotExist take no values; remove values"),
    platform("selector DoesNotExist with values", "namespaceSelector: {matchExpressions: [{key: team, operator: DoesNotExist, values: [x]}]}", "spec.namespaceSelector.matchExpressions[0].values", "take no values"),
    platform("selector key with a space", "namespaceSelector: {matchExpressions: [{key: 'team name', operator: Exists}]}", "spec.namespaceSelector.matchExpressions[0].key", "a selector key must be a label key"),
    platform("selector key with an empty name", "namespaceSelector: {matchExpressions: [{key: 'example.com/', operator: Exists}]}", "spec.namespaceSelector.matchExpressions[0].key", "(got \"example.com/\")"),
    platform("selector value that is not a label value", "namespaceSelector: {matchExpressions: [{key: team, operator: In, values: ['-payments-']}]}", "spec.namespaceSelector.matchExpressions[0].values[0]", "should match"),
    platform("selector matchLabels value with a space", "namespaceSelector: {matchLabels: {team: 'pay ments'}}", "spec.namespaceSelector.matchLabels.team", "should match"),
    // Unknown fields everywhere, inside the embedded Kubernetes types and metadata too.
    platform("typo in podSecurityContext", "defaults: {podSecurityContext: {runAsNonRot: true}}", "spec.defaults.podSecurityContext.runAsNonRot", "did you mean `runAsNonRoot`?"),
    platform("typo in containerSecurityContext", "defaults: {containerSecurityContext: {readOnlyRootFilesytem: true}}", "spec.defaults.containerSecurityContext.readOnlyRootFilesytem", "unknown field `readOnlyRootFilesytem`"),
    platform("typo in container capabilities", "defaults: {containerSecurityContext: {capabilities: {dorp: [ALL]}}}", "spec.defaults.containerSecurityContext.capabilities.dorp", "did you mean `drop`?"),
    platform("typo in seccompProfile", "defaults: {podSecurityContext: {seccompProfile: {typ: RuntimeDefault}}}", "spec.defaults.podSecurityContext.seccompProfile.typ", "did you mean `type`?"),
    platform("typo in topologySpread", "defaults: {topologySpread: {maxSkw: 2}}", "spec.defaults.topologySpread.maxSkw", "did you mean `maxSkew`?"),
    platform("typo in ingress TLS", "defaults: {ingress: {tls: {enabeld: true}}}", "spec.defaults.ingress.tls.enabeld", "did you mean `enabled`?"),
    app("metadata.lables", "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {name: web, namespace: default, lables: {team: a}}\nspec: {image: nginx:1.27}", "metadata.lables", "unknown field `lables`; remove it or fix its spelling (did you mean `labels`?)"),
    app("metadata.namespce", "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {name: web, namespce: shop}\nspec: {image: nginx:1.27}", "metadata.namespce", "did you mean `namespace`?"),
    platform("metadata.annotation on a Platform", "apiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata: {name: p, annotation: {a: b}}\nspec: {}", "metadata.annotation", "did you mean `annotations`?"),
    // Migrations and cron jobs.
    app("cron schedule minute 61", "image: nginx:1.27\ncronJobs: [{name: report, schedule: '61 * * * *', command: [report]}]", "spec.cronJobs[0].schedule", "schedule must be five fields, minute (0-59)"),
    app("cron schedule with six fields", "image: nginx:1.27\ncronJobs: [{name: report, schedule: '0 0 3 * * *', command: [report]}]", "spec.cronJobs[0].schedule", "(got \"0 0 3 * * *\")"),
    app("cron schedule with a day name typo", "image: nginx:1.27\ncronJobs: [{name: report, schedule: '0 3 * * MONDAY', command: [report]}]", "spec.cronJobs[0].schedule", "day-of-week (0-6 or SUN-SAT)"),
    app("cron schedule with a step of 0", "image: nginx:1.27\ncronJobs: [{name: report, schedule: '*/0 * * * *', command: [report]}]", "spec.cronJobs[0].schedule", "schedule must be"),
    app("cron schedule with TZ=", "image: nginx:1.27\ncronJobs: [{name: report, schedule: 'TZ=UTC 0 3 * * *', command: [report]}]", "spec.cronJobs[0].schedule", "schedule must be"),
    app("cron schedule @every", "image: nginx:1.27\ncronJobs: [{name: report, schedule: '@every 1h', command: [report]}]", "spec.cronJobs[0].schedule", "or @hourly, @daily"),
    app("cron time zone misspelt", "image: nginx:1.27\ncronJobs: [{name: report, schedule: '0 3 * * *', timeZone: Asia/Tokio, command: [report]}]", "spec.cronJobs[0].timeZone", "timeZone must be a name from the IANA time zone database, such as Etc/UTC, Europe/Berlin or Asia/Tokyo (case matters; Local is not allowed) (got \"Asia/Tokio\")"),
    app("cron time zone Local", "image: nginx:1.27\ncronJobs: [{name: report, schedule: '0 3 * * *', timeZone: Local, command: [report]}]", "spec.cronJobs[0].timeZone", "Local is not allowed"),
    app("cron time zone in lowercase", "image: nginx:1.27\ncronJobs: [{name: report, schedule: '0 3 * * *', timeZone: asia/tokyo, command: [report]}]", "spec.cronJobs[0].timeZone", "case matters"),
    app("typo in a cron job", "image: nginx:1.27\ncronJobs: [{name: report, schedule: '0 3 * * *', comand: [report]}]", "spec.cronJobs[0].comand", "unknown field `comand`"),
    app("typo in migrate", "image: nginx:1.27\nmigrate: {command: [migrate], timeout: 60}", "spec.migrate.timeout", "unknown field `timeout`"),
    app("cronjobs in lowercase", "image: nginx:1.27\ncronjobs: [{name: report, schedule: '0 3 * * *', command: [report]}]", "spec.cronjobs", "did you mean `cronJobs`?"),
    app("duplicate cron job names", "image: nginx:1.27\ncronJobs: [{name: report, schedule: '0 3 * * *', command: [a]}, {name: report, schedule: '0 4 * * *', command: [b]}]", "spec.cronJobs", "cronJobs names must be unique"),
    app("cron job name over 52 characters with the App's", "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {name: a-rather-long-application-name}\nspec: {image: nginx:1.27, cronJobs: [{name: nightly-customer-report, schedule: '0 3 * * *', command: [report]}]}", "spec.cronJobs", "at most 52 characters for a CronJob name"),
    app("cron job name uppercase", "image: nginx:1.27\ncronJobs: [{name: Report, schedule: '0 3 * * *', command: [report]}]", "spec.cronJobs[0].name", "lowercase letters, digits and '-'"),
    app("cron job without command or image", "image: nginx:1.27\ncronJobs: [{name: report, schedule: '0 3 * * *'}]", "spec.cronJobs[0].command", "needs a command, or an image of its own"),
    app("cron job image with a scheme", "image: nginx:1.27\ncronJobs: [{name: report, schedule: '0 3 * * *', image: 'https://registry.example.com/report:1'}]", "spec.cronJobs[0].image", "it starts with a scheme"),
    app("cron job timeout of 0", "image: nginx:1.27\ncronJobs: [{name: report, schedule: '0 3 * * *', command: [report], timeoutSeconds: 0}]", "spec.cronJobs[0].timeoutSeconds", "between 1 and 86400"),
    app("cron job cpu with a space", "image: nginx:1.27\ncronJobs: [{name: report, schedule: '0 3 * * *', command: [report], resources: {cpu: '1 '}}]", "spec.cronJobs[0].resources.cpu", "it contains a space"),
    app("migrate without a command", "image: nginx:1.27\nmigrate: {command: []}", "spec.migrate.command", "needs at least one entry"),
    app("migrate missing command", "image: nginx:1.27\nmigrate: {timeoutSeconds: 60}", "spec.migrate", "missing field `command`"),
    app("migrate image uppercase", "image: nginx:1.27\nmigrate: {command: [migrate], image: Migrate:1}", "spec.migrate.image", "(got \"Migrate:1\""),
    app("migrate backoffLimit above 10", "image: nginx:1.27\nmigrate: {command: [migrate], backoffLimit: 11}", "spec.migrate.backoffLimit", "between 0 and 10"),
    app("sidecars on a batch-only App", "image: nginx:1.27\nsidecars: [{name: proxy, image: envoy:1}]\ncronJobs: [{name: report, schedule: '0 3 * * *', command: [report]}]", "spec.sidecars", "batch-only, without a Deployment"),
    platform("bad concurrencyPolicy", "defaults: {cronJobs: {concurrencyPolicy: Never}}", "spec.defaults.cronJobs.concurrencyPolicy", "Allow, Forbid or Replace"),
    platform("bad default time zone", "defaults: {cronJobs: {timeZone: Europe/Berln}}", "spec.defaults.cronJobs.timeZone", "(got \"Europe/Berln\")"),
    platform("startingDeadlineSeconds below 10", "defaults: {cronJobs: {startingDeadlineSeconds: 5}}", "spec.defaults.cronJobs.startingDeadlineSeconds", "between 10 and 86400"),
    platform("migrate historyLimit 0", "defaults: {migrate: {historyLimit: 0}}", "spec.defaults.migrate.historyLimit", "between 1 and 100"),
    platform("typo in cronJobs defaults", "defaults: {cronJobs: {timezone: Etc/UTC}}", "spec.defaults.cronJobs.timezone", "did you mean `timeZone`?"),
    app("top-level spc", "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {name: web}\nspc: {image: nginx:1.27}\nspec: {image: nginx:1.27}", "spc", "did you mean `spec`?"),
];

fn document(case: &Case) -> String {
    if case.yaml.starts_with("apiVersion") {
        return case.yaml.to_string();
    }
    let (kind, name) = match case.kind {
        Kind::App => ("App", "web"),
        Kind::Platform => ("Platform", "defaults"),
    };
    let spec: String = case.yaml.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "apiVersion: baseplate.dev/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n{spec}"
    )
}

fn field_errors(case: &Case) -> Result<Vec<FieldError>, String> {
    let text = document(case);
    match manifest::parse("test", &text) {
        Ok(_) => Err(format!(
            "{}: accepted, but should fail on {}\n{text}",
            case.name, case.field
        )),
        Err(ManifestError::Invalid { errors, .. }) => Ok(errors),
        Err(other) => Err(format!("{}: expected field errors, got {other}", case.name)),
    }
}

#[test]
fn at_least_60_invalid_manifests_are_covered() {
    assert!(CASES.len() >= 60, "{}", CASES.len());
    let mut names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CASES.len(), "case names are unique");
}

#[test]
fn every_invalid_manifest_is_rejected_with_its_field_and_the_fix() {
    let mut failures = Vec::new();
    for case in CASES {
        let errors = match field_errors(case) {
            Ok(errors) => errors,
            Err(failure) => {
                failures.push(failure);
                continue;
            }
        };
        if !errors
            .iter()
            .any(|e| e.field == case.field && e.message.contains(case.message))
        {
            failures.push(format!(
                "{}: expected {} with {:?}; got:\n{}",
                case.name,
                case.field,
                case.message,
                errors
                    .iter()
                    .map(|e| format!("    {e}\n"))
                    .collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

/// The documents the cases build on are valid, so each case fails for what it adds.
#[test]
fn the_base_documents_are_valid() {
    let app = app_with_spec("web", &format!("image: nginx:1.27\n{PORT}\n"));
    assert!(baseplate_crd::admission::check_app(&app).is_empty());
    let platform = platform_with_spec("defaults", "{}");
    assert!(baseplate_crd::admission::check_platform(&platform).is_empty());
}

/// Real label selectors and well-formed registry entries pass admission, and the selector matches.
#[test]
fn real_selectors_and_registry_entries_are_accepted() {
    let platform = platform_with_spec(
        "guarded",
        "namespaceSelector:\n  matchLabels: {kubernetes.io/metadata.name: shop}\n  matchExpressions:\n    - {key: example.com/tier, operator: In, values: [prod, staging]}\n    - {key: team, operator: NotIn, values: [sandbox]}\n    - {key: owner, operator: Exists}\n    - {key: legacy, operator: DoesNotExist}\nlimits:\n  allowedRegistries: [registry.example.com, registry.example.com/, docker.io/library, 'localhost:5000', 'myregistry:5000/team/', 10.0.0.1, index.docker.io/bitnami]\n",
    );
    let labels = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let shop = labels(&[
        ("kubernetes.io/metadata.name", "shop"),
        ("example.com/tier", "prod"),
        ("team", "payments"),
        ("owner", "sre"),
    ]);
    let select = |labels| {
        baseplate_crd::EffectivePlatform::select(std::slice::from_ref(&platform), labels).names()
    };
    assert_eq!(select(&shop), ["guarded"]);
    let mut legacy = shop.clone();
    legacy.insert("legacy".into(), "yes".into());
    assert!(select(&legacy).is_empty());
}

#[test]
fn yaml_that_is_not_yaml_is_a_parse_error_with_the_source_name() {
    let error = manifest::parse("broken.yaml", "spec: [unclosed").unwrap_err();
    assert!(matches!(error, ManifestError::Parse { .. }), "{error}");
    assert!(error.to_string().starts_with("broken.yaml: "), "{error}");
}

#[test]
fn documents_of_another_kind_are_refused() {
    let error = manifest::parse(
        "d.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
    )
    .unwrap_err();
    assert!(
        matches!(&error, ManifestError::UnexpectedKind { index: 1, problem, .. } if problem == "kind: Deployment is not an App or a Platform"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// Through render(): rules that need the Platforms, and the guardrails.

fn invalid_spec(app_spec: &str, platforms: &[&str]) -> Vec<FieldError> {
    let app = app_with_spec("web", app_spec);
    let platforms: Vec<_> = platforms
        .iter()
        .enumerate()
        .map(|(i, spec)| platform_with_spec(&format!("p{i}"), spec))
        .collect();
    match try_render(&app, &platforms) {
        Err(RenderError::InvalidSpec(errors)) => errors,
        other => panic!("expected InvalidSpec, got {other:?}"),
    }
}

#[test]
fn min_replicas_from_a_platform_above_the_apps_max_names_both_layers() {
    let errors = invalid_spec(
        "image: nginx:1.27\nautoscaling: {maxReplicas: 3}",
        &["defaults: {autoscaling: {minReplicas: 5}}"],
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "spec.autoscaling");
    assert!(
        errors[0]
            .message
            .contains("minReplicas 5 (platform/p0) exceeds maxReplicas 3 (app)"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_host_template_that_gives_an_invalid_host_is_an_error() {
    let errors = invalid_spec(
        &format!("image: nginx:1.27\n{PORT}"),
        &["defaults: {ingress: {hostTemplate: '{name}_{namespace}.example.com'}}"],
    );
    assert_eq!(errors[0].field, "spec.ingress.host");
    assert!(
        errors[0]
            .message
            .contains("\"web_default.example.com\", which is not a valid DNS name"),
        "{}",
        errors[0]
    );
    assert!(errors[0].message.contains("platform/p0"), "{}", errors[0]);
}

#[test]
fn rolling_update_zero_across_two_platforms_is_an_error() {
    let errors = invalid_spec(
        &format!("image: nginx:1.27\n{PORT}"),
        &[
            "priority: 1\ndefaults: {rollingUpdate: {maxSurge: 0}}",
            "priority: 2\ndefaults: {rollingUpdate: {maxUnavailable: 0%}}",
        ],
    );
    assert_eq!(errors[0].field, "rollingUpdate");
    assert!(
        errors[0]
            .message
            .contains("maxSurge (platform/p0) and maxUnavailable (platform/p1) are both zero"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_cron_range_that_runs_backwards_is_refused_with_the_entry_named() {
    let errors = invalid_spec(
        "image: nginx:1.27\ncronJobs: [{name: nightly, schedule: '0 22-6 * * *', command: [report]}]",
        &[],
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "spec.cronJobs[nightly].schedule");
    assert!(
        errors[0]
            .message
            .contains("the hour range 22-6 runs backwards; write it low-high, such as 6-22"),
        "{}",
        errors[0]
    );
}

#[test]
fn an_app_without_a_namespace_cannot_be_resolved() {
    let mut app = app_with_spec("web", "image: nginx:1.27");
    app.metadata.namespace = None;
    let error = baseplate_crd::render(&app, &common::select(&[]), &Default::default()).unwrap_err();
    assert!(
        matches!(&error, RenderError::InvalidSpec(e) if e[0].field == "metadata.namespace"),
        "{error}"
    );
}

#[test]
fn a_generated_secret_without_a_value_is_reported_not_invented() {
    let app = app_with_spec("web", "image: nginx:1.27\nsecrets: {generate: [TOKEN]}");
    let error = baseplate_crd::render(&app, &common::select(&[]), &Default::default()).unwrap_err();
    assert_eq!(error, RenderError::GeneratedSecretMissing("TOKEN".into()));
}

/// A guardrail case: the App's spec, the Platform's `limits`, and what each violation must name.
struct Guardrail {
    name: &'static str,
    app: &'static str,
    limits: &'static str,
    violations: &'static [(&'static str, &'static str)],
}

#[rustfmt::skip]
const GUARDRAILS: &[Guardrail] = &[
    Guardrail { name: "migration image from another registry", app: "image: registry.example.com/api:1\nreplicas: 2\nmigrate: {command: [migrate], image: 'ghcr.io/acme/migrate:1'}", limits: "allowedRegistries: [registry.example.com]", violations: &[("spec.migrate.image", "image \"ghcr.io/acme/migrate:1\" is not from an allowed registry")] },
    Guardrail { name: "cron job image from another registry", app: "image: registry.example.com/api:1\ncronJobs: [{name: report, schedule: '0 3 * * *', image: 'docker.io/acme/report:1'}]", limits: "allowedRegistries: [registry.example.com]", violations: &[("spec.cronJobs[report].image", "is not from an allowed registry")] },
    Guardrail { name: "cron job memory above maxMemory", app: "image: nginx:1.27\nresources: {memory: 1Gi}\ncronJobs: [{name: report, schedule: '0 3 * * *', command: [report], resources: {memory: 16Gi}}]", limits: "maxMemory: 8Gi", violations: &[("spec.cronJobs[report].resources.memory", "is 16Gi but at most 8Gi"), ("spec.cronJobs[report].resources.memoryLimit", "is 16Gi")] },
    Guardrail { name: "cron job cpu limit inherited from the App above maxCpu", app: "image: nginx:1.27\nreplicas: 1\nresources: {cpu: '1', cpuLimit: '8'}\ncronJobs: [{name: report, schedule: '0 3 * * *', command: [report]}]", limits: "maxCpu: '4'", violations: &[("spec.resources.cpuLimit", "is 8 but at most 4"), ("spec.cronJobs[report].resources.cpuLimit", "is 8 but at most 4")] },
    Guardrail { name: "a batch-only App is not held to maxReplicas", app: "image: nginx:1.27\ncronJobs: [{name: report, schedule: '0 3 * * *', command: [report], image: 'ghcr.io/x/y:1'}]", limits: "maxReplicas: 1\nallowedRegistries: [docker.io/library]", violations: &[("spec.cronJobs[report].image", "is not from an allowed registry")] },
    Guardrail { name: "autoscaling above maxReplicas", app: "image: nginx:1.27\nautoscaling: {maxReplicas: 20}", limits: "maxReplicas: 10", violations: &[("spec.autoscaling.maxReplicas", "is 20 but at most 10 replicas are allowed")] },
    Guardrail { name: "built-in autoscaling above maxReplicas", app: "image: nginx:1.27", limits: "maxReplicas: 4", violations: &[("spec.autoscaling.maxReplicas", "is 10 but at most 4 replicas")] },
    Guardrail { name: "fixed replicas above maxReplicas", app: "image: nginx:1.27\nreplicas: 12", limits: "maxReplicas: 10", violations: &[("spec.replicas", "is 12 but at most 10 replicas are allowed")] },
    Guardrail { name: "image from another registry", app: "image: ghcr.io/acme/api:1.0", limits: "allowedRegistries: [registry.example.com/]", violations: &[("spec.image", "\"ghcr.io/acme/api:1.0\" is not from an allowed registry; use an image under one of: registry.example.com/")] },
    Guardrail { name: "docker hub short name", app: "image: nginx:1.27", limits: "allowedRegistries: [registry.example.com/]", violations: &[("spec.image", "\"nginx:1.27\" is not from an allowed registry")] },
    Guardrail { name: "docker hub user image", app: "image: someone/tool:1", limits: "allowedRegistries: [registry.example.com/, docker.io/library/]", violations: &[("spec.image", "\"someone/tool:1\" is not from an allowed registry")] },
    Guardrail { name: "registry prefix look-alike", app: "image: registry.example.com.evil.io/api:1", limits: "allowedRegistries: [registry.example.com/]", violations: &[("spec.image", "not from an allowed registry")] },
    Guardrail { name: "sidecar from another registry", app: "image: registry.example.com/api:1\nsidecars: [{name: proxy, image: envoyproxy/envoy:v1.31.0}]", limits: "allowedRegistries: [registry.example.com/]", violations: &[("spec.sidecars[proxy].image", "\"envoyproxy/envoy:v1.31.0\" is not from an allowed registry")] },
    Guardrail { name: "missing resource requests", app: "image: nginx:1.27", limits: "requireResourceRequests: true", violations: &[("spec.resources.cpu", "must be set"), ("spec.resources.memory", "must be set")] },
    Guardrail { name: "missing memory request", app: "image: nginx:1.27\nresources: {cpu: 100m}", limits: "requireResourceRequests: true", violations: &[("spec.resources.memory", "own memory request")] },
    Guardrail { name: "sidecar without requests", app: "image: nginx:1.27\nresources: {cpu: 100m, memory: 128Mi}\nsidecars: [{name: proxy, image: envoy:1}]", limits: "requireResourceRequests: true", violations: &[("spec.sidecars[proxy].resources.cpu", "must be set"), ("spec.sidecars[proxy].resources.memory", "must be set")] },
    Guardrail { name: "cpu above maxCpu", app: "image: nginx:1.27\nresources: {cpu: '8'}", limits: "maxCpu: '4'", violations: &[("spec.resources.cpu", "is 8 but at most 4 is allowed per container")] },
    Guardrail { name: "cpu limit above maxCpu", app: "image: nginx:1.27\nresources: {cpuLimit: 4500m}", limits: "maxCpu: '4'", violations: &[("spec.resources.cpuLimit", "is 4500m but at most 4 is allowed")] },
    Guardrail { name: "memory above maxMemory in other units", app: "image: nginx:1.27\nresources: {memory: 9000Mi}", limits: "maxMemory: 8Gi", violations: &[("spec.resources.memory", "is 9000Mi but at most 8Gi"), ("spec.resources.memoryLimit", "is 9000Mi but at most 8Gi")] },
    Guardrail { name: "memory limit above maxMemory", app: "image: nginx:1.27\nresources: {memory: 1Gi, memoryLimit: 10G}", limits: "maxMemory: 8Gi", violations: &[("spec.resources.memoryLimit", "is 10G but at most 8Gi")] },
    Guardrail { name: "sidecar memory above maxMemory", app: "image: nginx:1.27\nsidecars: [{name: cache, image: redis:7, resources: {memory: 16Gi}}]", limits: "maxMemory: 8Gi", violations: &[("spec.sidecars[cache].resources.memory", "is 16Gi"), ("spec.sidecars[cache].resources.memoryLimit", "is 16Gi")] },
    // allowedRegistries: the registry host matches exactly, the path on a `/` boundary.
    Guardrail { name: "registry host with a suffix", app: "image: registry.example.comx/api:1", limits: "allowedRegistries: [registry.example.com]", violations: &[("spec.image", "\"registry.example.comx/api:1\" is not from an allowed registry; use an image under one of: registry.example.com (this one is registry registry.example.comx, repository api;")] },
    Guardrail { name: "registry host as a subdomain of another", app: "image: registry.example.com.evil.io/team/api:1", limits: "allowedRegistries: [registry.example.com]", violations: &[("spec.image", "this one is registry registry.example.com.evil.io")] },
    Guardrail { name: "registry on another port", app: "image: registry.example.com:5000/api:1", limits: "allowedRegistries: [registry.example.com]", violations: &[("spec.image", "this one is registry registry.example.com:5000")] },
    Guardrail { name: "repository path prefix without a slash boundary", app: "image: docker.io/library-evil/nginx:1", limits: "allowedRegistries: [docker.io/library]", violations: &[("spec.image", "repository library-evil/nginx")] },
    Guardrail { name: "team path prefix of a longer team", app: "image: registry.example.com/teammate/api:1", limits: "allowedRegistries: [registry.example.com/team]", violations: &[("spec.image", "not from an allowed registry")] },
    Guardrail { name: "image above the allowed path", app: "image: registry.example.com/api:1", limits: "allowedRegistries: [registry.example.com/team/]", violations: &[("spec.image", "not from an allowed registry")] },
    Guardrail { name: "docker hub user image under a library entry", app: "image: someone/nginx:1", limits: "allowedRegistries: [docker.io/library]", violations: &[("spec.image", "this one is registry docker.io, repository someone/nginx")] },
    Guardrail { name: "short name under a registry entry", app: "image: api:1", limits: "allowedRegistries: [registry.example.com]", violations: &[("spec.image", "this one is registry docker.io, repository library/api")] },
    Guardrail { name: "sidecar from a look-alike registry", app: "image: registry.example.com/api:1\nsidecars: [{name: proxy, image: registry.example.com.evil.io/envoy:1}]", limits: "allowedRegistries: [registry.example.com]", violations: &[("spec.sidecars[proxy].image", "not from an allowed registry")] },
    Guardrail { name: "digest image from another registry", app: "image: ghcr.io/acme/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", limits: "allowedRegistries: [registry.example.com]", violations: &[("spec.image", "this one is registry ghcr.io, repository acme/api")] },
    // maxCpu / maxMemory: exact comparisons, and a value that cannot be compared is refused.
    Guardrail { name: "cpu one millicore above maxCpu", app: "image: nginx:1.27\nresources: {cpu: 4001m}", limits: "maxCpu: '4'", violations: &[("spec.resources.cpu", "is 4001m but at most 4 is allowed per container")] },
    Guardrail { name: "cpu one nanocore above maxCpu", app: "image: nginx:1.27\nresources: {cpu: 4000000001n}", limits: "maxCpu: 4000m", violations: &[("spec.resources.cpu", "is 4000000001n but at most 4000m")] },
    Guardrail { name: "cpu in exponent form above maxCpu", app: "image: nginx:1.27\nresources: {cpu: '4.5e0'}", limits: "maxCpu: '4'", violations: &[("spec.resources.cpu", "is 4.5e0 but at most 4")] },
    Guardrail { name: "memory one byte above maxMemory in decimal units", app: "image: nginx:1.27\nresources: {memory: '8589934593'}", limits: "maxMemory: 8Gi", violations: &[("spec.resources.memory", "is 8589934593 but at most 8Gi"), ("spec.resources.memoryLimit", "is 8589934593")] },
    Guardrail { name: "memory a fraction above maxMemory", app: "image: nginx:1.27\nresources: {memory: 1Gi, memoryLimit: 8.0000001Gi}", limits: "maxMemory: 8Gi", violations: &[("spec.resources.memoryLimit", "is 8.0000001Gi but at most 8Gi")] },
    Guardrail { name: "memory in kibibytes above maxMemory in gigabytes", app: "image: nginx:1.27\nresources: {memory: 7812501Ki}", limits: "maxMemory: 8G", violations: &[("spec.resources.memory", "is 7812501Ki"), ("spec.resources.memoryLimit", "is 7812501Ki")] },
    Guardrail { name: "memory too large to compare", app: "image: nginx:1.27\nresources: {memory: '1e100'}", limits: "maxMemory: 8Gi", violations: &[("spec.resources.memory", "is \"1e100\", which cannot be compared with a limit"), ("spec.resources.memoryLimit", "it must compare with limits.maxMemory 8Gi")] },
    Guardrail { name: "maxCpu too large to compare", app: "image: nginx:1.27\nresources: {cpu: 100m}", limits: "maxCpu: '1e100'", violations: &[("spec.limits.maxCpu", "is \"1e100\", which cannot be compared with a limit: it is 10^55 or more, beyond what any limit compares; fix this Platform's limits.maxCpu")] },
];

fn violations(
    app_spec: &str,
    platforms: &[(&str, &str)],
) -> Result<baseplate_crd::Children, Vec<PolicyViolation>> {
    let app = app_with_spec("web", app_spec);
    let platforms: Vec<_> = platforms
        .iter()
        .map(|(name, spec)| platform_with_spec(name, spec))
        .collect();
    match try_render(&app, &platforms) {
        Ok(children) => Ok(children),
        Err(RenderError::PolicyViolation(violations)) => Err(violations),
        Err(other) => panic!("expected a policy violation, got {other}"),
    }
}

#[test]
fn every_guardrail_violation_names_the_field_the_limit_and_the_platform() {
    assert!(GUARDRAILS.len() >= 15);
    let mut failures = Vec::new();
    for case in GUARDRAILS {
        let limits: String = case.limits.lines().map(|l| format!("  {l}\n")).collect();
        let Err(found) = violations(case.app, &[("guardrails", &format!("limits:\n{limits}"))])
        else {
            failures.push(format!(
                "{}: rendered, but should have crossed a guardrail",
                case.name
            ));
            continue;
        };
        if found.len() != case.violations.len() {
            failures.push(format!(
                "{}: expected {} violations, got {found:?}",
                case.name,
                case.violations.len()
            ));
        }
        for (field, message) in case.violations {
            let hit = found.iter().any(|v| {
                v.field == *field && v.message.contains(message) && v.platform == "guardrails"
            });
            if !hit {
                failures.push(format!(
                    "{}: expected {field} with {message:?}; got {found:?}",
                    case.name
                ));
            }
        }
        // What a user reads: field, limit and Platform in one line.
        let text = RenderError::PolicyViolation(found.clone()).to_string();
        assert!(
            text.contains("(limit set by platform/guardrails)"),
            "{text}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn values_within_the_guardrails_render() {
    let within: &[(&str, &str)] = &[
        (
            "image: nginx:1.27\nautoscaling: {maxReplicas: 10}",
            "maxReplicas: 10",
        ),
        ("image: nginx:1.27\nreplicas: 10", "maxReplicas: 10"),
        (
            "image: registry.example.com/team/api:1",
            "allowedRegistries: [registry.example.com/]",
        ),
        (
            "image: nginx:1.27",
            "allowedRegistries: [docker.io/library/]",
        ),
        (
            "image: docker.io/library/nginx:1.27",
            "allowedRegistries: [docker.io/library/]",
        ),
        (
            "image: docker.io/nginx:1.27",
            "allowedRegistries: [docker.io/library/]",
        ),
        (
            "image: index.docker.io/library/nginx:1.27",
            "allowedRegistries: [docker.io/library/]",
        ),
        (
            "image: someone/tool:1",
            "allowedRegistries: [docker.io/someone/]",
        ),
        (
            "image: localhost:5000/api:1",
            "allowedRegistries: ['localhost:5000/']",
        ),
        (
            "image: nginx:1.27\nresources: {cpu: 100m, memory: 128Mi}",
            "requireResourceRequests: true",
        ),
        (
            "image: nginx:1.27\nresources: {cpu: 4000m, memory: 8Gi}",
            "maxCpu: '4'\nmaxMemory: 8Gi",
        ),
        // Entries without the trailing `/`, with paths, and with ports; images with digests.
        (
            "image: registry.example.com/team/api:1",
            "allowedRegistries: [registry.example.com]",
        ),
        (
            "image: registry.example.com/team/sub/api:1",
            "allowedRegistries: [registry.example.com/team]",
        ),
        (
            "image: registry.example.com/team:1",
            "allowedRegistries: [registry.example.com/team]",
        ),
        (
            "image: Registry.Example.com/team/api:1",
            "allowedRegistries: [registry.example.com]",
        ),
        (
            "image: registry.example.com/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "allowedRegistries: [registry.example.com]",
        ),
        (
            "image: registry.example.com/api:1.4@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "allowedRegistries: [registry.example.com/]",
        ),
        ("image: nginx", "allowedRegistries: [docker.io/library]"),
        ("image: someone/tool:1", "allowedRegistries: [docker.io]"),
        (
            "image: nginx:1.27",
            "allowedRegistries: [index.docker.io/library]",
        ),
        (
            "image: localhost:5000/api:1",
            "allowedRegistries: ['localhost:5000']",
        ),
        (
            "image: 10.0.0.1:5000/team/api:1",
            "allowedRegistries: ['10.0.0.1:5000/team']",
        ),
        (
            "image: registry.example.com/api:1\nsidecars: [{name: proxy, image: 'ghcr.io/acme/envoy:1'}]",
            "allowedRegistries: [registry.example.com, ghcr.io/acme]",
        ),
        // Equal values in other forms are within the limit; binary values cap at 2^63-1.
        (
            "image: nginx:1.27\nresources: {cpu: '4e0', cpuLimit: 0.004k, memory: '8589934592'}",
            "maxCpu: 4000m\nmaxMemory: 8Gi",
        ),
        (
            "image: nginx:1.27\nresources: {cpu: 4000000000n, memory: 8388608Ki}",
            "maxCpu: '4'\nmaxMemory: 8Gi",
        ),
        (
            "image: nginx:1.27\nresources: {memory: 16Ei}",
            "maxMemory: 8Ei",
        ),
    ];
    for (app, limits) in within {
        let limits: String = limits.lines().map(|l| format!("  {l}\n")).collect();
        if let Err(found) = violations(app, &[("guardrails", &format!("limits:\n{limits}"))]) {
            panic!("{app} under {limits}: {found:?}");
        }
    }
}

#[test]
fn every_matching_platforms_limits_hold_and_each_violation_names_its_own_platform() {
    let found = violations(
        "image: nginx:1.27\nreplicas: 8",
        &[
            ("team", "priority: 100\nlimits: {maxReplicas: 20}"),
            (
                "org",
                "priority: 0\nlimits: {maxReplicas: 5, allowedRegistries: [registry.example.com/]}",
            ),
        ],
    )
    .unwrap_err();
    let mut pairs: Vec<(&str, &str)> = found
        .iter()
        .map(|v| (v.field.as_str(), v.platform.as_str()))
        .collect();
    pairs.sort_unstable();
    assert_eq!(
        pairs,
        [("spec.image", "org"), ("spec.replicas", "org")],
        "a higher priority does not lift a lower Platform's limit: {found:?}"
    );
}
