// Command genmanifests writes Kubernetes manifests for the bump benchmark.
//
// Each file holds a Deployment (an init container, the app container "web"
// and a sidecar "proxy") and a Service, commented the way people comment
// their manifests. 2,000 files come to about 8 MB. The app container's image
// is registry.example.com:5000/team/web in every file, so that
//
//	slipway bump --set registry.example.com:5000/team/web=registry.example.com:5000/team/web:2.0.0 DIR
//	kubectl set image --local -f DIR web=registry.example.com:5000/team/web:2.0.0 -o yaml
//
// both rewrite every file. The output is the same for the same flags.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	n := flag.Int("n", 2000, "number of files to write")
	out := flag.String("o", "", "directory to write into (created when missing)")
	flag.Parse()
	if *out == "" || *n < 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: genmanifests [-n N] -o DIR")
		os.Exit(2)
	}
	if err := generate(*out, *n); err != nil {
		fmt.Fprintf(os.Stderr, "genmanifests: %v\n", err)
		os.Exit(1)
	}
}

func generate(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("app-%04d.yaml", i))
		if err := os.WriteFile(p, []byte(render(i)), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	return nil
}

var teams = []string{"payments", "search", "checkout", "identity", "catalog", "billing", "edge", "notify"}

// render returns file i. Values vary with i (names, ports, replicas,
// resources, quote styles) so that files are not copies of one another.
func render(i int) string {
	team := teams[i%len(teams)]
	app := fmt.Sprintf("%s-svc-%04d", team, i)
	r := strings.NewReplacer(
		"{{APP}}", app,
		"{{TEAM}}", team,
		"{{REPLICAS}}", fmt.Sprint(2+i%5),
		"{{PORT}}", fmt.Sprint(8080+i%10),
		"{{METRICS}}", fmt.Sprint(9090+i%7),
		"{{CPU}}", fmt.Sprint(100+(i%8)*50),
		"{{MEM}}", fmt.Sprint(128+(i%6)*64),
		"{{TAG}}", fmt.Sprintf("1.%d.%d", i%4, i%17),
		"{{REV}}", fmt.Sprintf("%07x", uint32(i)*2654435761),
		"{{WEBIMAGE}}", webImage(i),
	)
	return r.Replace(template)
}

// webImage spells the app image in the ways real files do.
func webImage(i int) string {
	ref := fmt.Sprintf("registry.example.com:5000/team/web:1.%d.%d", i%4, i%17)
	switch i % 3 {
	case 0:
		return ref + " # bumped by CI"
	case 1:
		return `"` + ref + `"`
	default:
		return ref
	}
}

const template = `# {{APP}}: owned by team {{TEAM}}.
# Generated from the service catalog; edit the image tag through the release
# pipeline, not by hand. Questions: #team-{{TEAM}} on chat.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{APP}}
  namespace: {{TEAM}}
  labels:
    app.kubernetes.io/name: {{APP}}
    app.kubernetes.io/part-of: {{TEAM}}
    app.kubernetes.io/version: "{{TAG}}"
    app.kubernetes.io/managed-by: slipway
  annotations:
    deployment.kubernetes.io/revision: "{{REPLICAS}}"
    # The commit that last changed this file.
    example.com/source-revision: "{{REV}}"
spec:
  replicas: {{REPLICAS}} # scaled by the HPA in production
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0 # never drop below the desired count
  selector:
    matchLabels:
      app.kubernetes.io/name: {{APP}}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{APP}}
        app.kubernetes.io/part-of: {{TEAM}}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: "{{METRICS}}"
    spec:
      serviceAccountName: {{APP}}
      terminationGracePeriodSeconds: 30
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        fsGroup: 10001
      initContainers:
        # Runs the schema migrations before the app starts.
        - name: migrate
          image: registry.example.com:5000/team/migrate:{{TAG}}
          args: ["migrate", "--database-url=$(DATABASE_URL)", "--timeout=60s"]
          envFrom:
            - secretRef:
                name: {{APP}}-db
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits: {cpu: 200m, memory: 128Mi}
      containers:
        - name: web
          image: {{WEBIMAGE}}
          imagePullPolicy: IfNotPresent
          ports:
            - name: http
              containerPort: {{PORT}}
              protocol: TCP
            - name: metrics
              containerPort: {{METRICS}}
          env:
            - name: LOG_LEVEL
              value: info
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: GOMEMLIMIT
              valueFrom:
                resourceFieldRef:
                  resource: limits.memory
          readinessProbe:
            httpGet:
              path: /healthz/ready
              port: http
            initialDelaySeconds: 5
            periodSeconds: 10
          livenessProbe:
            httpGet:
              path: /healthz/live
              port: http
            failureThreshold: 3
          resources:
            requests:
              cpu: {{CPU}}m
              memory: {{MEM}}Mi
            limits:
              memory: {{MEM}}Mi # no CPU limit: throttling hurts latency
          volumeMounts:
            - name: config
              mountPath: /etc/{{APP}}
              readOnly: true
        # Terminates TLS and exports request metrics.
        - name: proxy
          image: 'docker.io/envoyproxy/envoy:v1.31.2'
          args:
            - --config-path
            - /etc/envoy/envoy.yaml
            - --log-level
            - warn
          ports:
            - name: https
              containerPort: 8443
          resources:
            requests: {cpu: 50m, memory: 64Mi}
      volumes:
        - name: config
          configMap:
            name: {{APP}}-config
---
apiVersion: v1
kind: Service
metadata:
  name: {{APP}}
  namespace: {{TEAM}}
  labels:
    app.kubernetes.io/name: {{APP}}
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: {{APP}}
  ports:
    - name: http
      port: 80
      targetPort: http
    - name: https
      port: 443
      targetPort: https
`
