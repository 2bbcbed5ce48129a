/* tests/registry/registry_fixture.c - a real Docker registry for tests and
 * benchmarks (see registry_fixture.h for the interface).
 *
 * DESIGN
 * - The registry is Debian's docker-registry, forked and exec'd in its own
 *   session with PR_SET_PDEATHSIG(SIGKILL), and remembered in a table an
 *   atexit handler empties: a test process that dies on a failed assertion
 *   never leaves a registry behind.
 * - Pushes go straight to the registry (never through a proxy) with libcurl,
 *   one easy handle per thread so a bench tool pushing from many threads
 *   keeps its connections alive. Blobs known to be stored are remembered so
 *   shared config and filler layers cost no request after the first push.
 * - The token front and the fault proxy are one libmicrohttpd forwarder
 *   (a thread per connection, whole bodies buffered) in two modes.
 * - Images are built in memory: tar with libarchive (fixed mtime, uid 0),
 *   gzip with zlib (header mtime 0), so the same files give the same digest.
 */
#include "registry/registry_fixture.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define TREG_USER "cincy"
#define TREG_PASSWORD "s3cret"
#define TREG_USERPWD TREG_USER ":" TREG_PASSWORD
#define TREG_MTIME 1577836800 /* 2020-01-01: layer entries never carry "now" */
#define TREG_START_DEADLINE_MS 20000
#define TREG_MAX_HOSTS 8   /* registry + proxies named in the auth file */
#define TREG_KNOWN_MAX 4096 /* remembered blob digests per registry */

#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_COSIGN_LAYER "application/vnd.dev.cosign.simplesigning.v1+json"
#define MT_ACCEPT_ALL MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", " MT_OCI_INDEX

/* A blob this process pushed or saw stored. Two uploads of one blob at once
 * must not happen: the filesystem driver rewrites the repository's link file
 * in place, and a reader between truncate and write sees "blob unknown". */
struct known_blob {
    char key[160]; /* "repo@digest" */
    int done;      /* 0: an upload is in flight, others wait */
};

struct treg {
    treg_options opt;
    int owned;                       /* 0: attached to a registry we did not start */
    pid_t pid;                       /* registry process, 0 when paused/stopped */
    int port;                        /* registry port */
    char workdir[3000];              /* short enough for every path under it */
    char storage[PATH_MAX];
    char config[PATH_MAX];           /* docker-registry YAML */
    char log[PATH_MAX];              /* registry stdout/stderr */
    char ca_file[PATH_MAX];          /* "" without tls */
    char auth_file[PATH_MAX];        /* "" without auth */
    char reg_url[64];                /* where pushes go: http(s)://127.0.0.1:PORT */
    char host[64];                   /* what clients use (token proxy with token_auth) */
    char location[80];
    char userpwd[128];               /* registry credentials for pushes, "" none */
    int insecure;                    /* attached https registry: skip verification */
    char auth_hosts[TREG_MAX_HOSTS][64]; /* hosts written to the auth file */
    size_t nauth_hosts;
    treg_proxy *token_proxy;         /* token_auth front, else NULL */
    pthread_mutex_t known_lock;      /* guards known, nknown */
    pthread_cond_t known_cond;       /* an upload in flight finished */
    struct known_blob *known;        /* blobs stored or being pushed */
    size_t nknown;
};

/* ---- small utilities ---------------------------------------------------- */

typedef struct tbuf {
    char *data;
    size_t len, cap;
} tbuf;

static int tbuf_add(tbuf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *d;
        while (cap < b->len + n + 1)
            cap *= 2;
        if ((d = realloc(b->data, cap)) == NULL)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0'; /* always a C string too */
    return 0;
}

static void tbuf_free(tbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int fail(const char *fmt, ...)
{
    va_list ap;
    fputs("treg: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return fail("path too long: %s", path);
    for (char *s = buf + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return fail("mkdir %s: %s", buf, strerror(errno));
            *s = '/';
        }
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return fail("mkdir %s: %s", buf, strerror(errno));
    return 0;
}

static int write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f)
        return fail("cannot create %s: %s", path, strerror(errno));
    ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : fail("cannot write %s", path);
}

static int read_file(const char *path, tbuf *out)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n;
    if (!f)
        return fail("cannot open %s: %s", path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (tbuf_add(out, chunk, n) < 0) {
            fclose(f);
            return fail("out of memory reading %s", path);
        }
    }
    fclose(f);
    if (!out->data)
        tbuf_add(out, "", 0);
    return 0;
}

static void sha256_digest(const void *data, size_t len, char out[72])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    strcpy(out, "sha256:");
    for (unsigned i = 0; i < 32; i++)
        sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

static int valid_digest(const char *d)
{
    if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
        return 0;
    return strspn(d + 7, "0123456789abcdef") == 64;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A port nobody listens on right now (docker-registry cannot bind port 0).
 * Another process may take it before the registry does; treg_start retries. */
static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* ---- child processes ---------------------------------------------------- */

/* Registries alive in this process: the atexit handler kills what a test
 * left running (PR_SET_PDEATHSIG covers deaths that skip atexit). */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t live_pids[64];
static pthread_once_t live_once = PTHREAD_ONCE_INIT;

static void live_kill_all(void)
{
    pthread_mutex_lock(&live_lock);
    for (size_t i = 0; i < 64; i++) {
        if (live_pids[i] > 0) {
            kill(-live_pids[i], SIGKILL);
            waitpid(live_pids[i], NULL, 0);
            live_pids[i] = 0;
        }
    }
    pthread_mutex_unlock(&live_lock);
}

static void live_register_atexit(void)
{
    atexit(live_kill_all);
}

static void live_set(pid_t add, pid_t remove)
{
    pthread_once(&live_once, live_register_atexit);
    pthread_mutex_lock(&live_lock);
    for (size_t i = 0; i < 64; i++) {
        if (remove && live_pids[i] == remove) {
            live_pids[i] = 0;
            remove = 0;
        }
        if (add && live_pids[i] == 0) {
            live_pids[i] = add;
            add = 0;
        }
    }
    pthread_mutex_unlock(&live_lock);
}

/* fork + exec argv with stdout/stderr appended to log; in the child only
 * async-signal-safe calls (the parent may have threads). own_session: setsid
 * and die with the parent (for long-running children). */
static pid_t spawn(char *const argv[], char *const envp[], const char *log, int own_session)
{
    pid_t parent = getpid(), pid;
    long max_fd = sysconf(_SC_OPEN_MAX);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || null < 0) {
        fail("cannot open %s: %s", log, strerror(errno));
        if (fd >= 0)
            close(fd);
        if (null >= 0)
            close(null);
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL); /* a caller's sigwait mask must not stick */
        if (own_session) {
            setsid();
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) /* parent died before prctl */
                _exit(127);
        }
        dup2(null, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        /* Keep no descriptor of the caller open (a test runner's pipes). */
        for (long i = 3; i < (max_fd > 0 && max_fd < 65536 ? max_fd : 65536); i++)
            close((int)i);
        if (envp)
            execve(argv[0], argv, envp);
        else
            execvp(argv[0], argv);
        _exit(127);
    }
    close(fd);
    close(null);
    if (pid < 0)
        fail("fork: %s", strerror(errno));
    return pid;
}

static int run_cmd(char *const argv[], const char *log)
{
    int status;
    pid_t pid = spawn(argv, NULL, log, 0);
    if (pid < 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return fail("waitpid %s: %s", argv[0], strerror(errno));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail("%s failed (status %d), see %s", argv[0], status, log);
    return 0;
}

/* SIGTERM, then SIGKILL after 5 s; always reaps. */
static void stop_process(pid_t pid)
{
    long deadline = now_ms() + 5000;
    if (pid <= 0)
        return;
    kill(-pid, SIGTERM);
    while (waitpid(pid, NULL, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(-pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        sleep_ms(10);
    }
    live_set(0, pid);
}

/* ---- HTTP client (pushes and probes) ------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static pthread_key_t curl_key;

static void curl_key_free(void *h)
{
    curl_easy_cleanup(h);
}

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_key_create(&curl_key, curl_key_free);
}

/* This thread's easy handle, reset: reused so connections stay alive. */
static CURL *thread_curl(void)
{
    CURL *h;
    pthread_once(&curl_once, curl_init_once);
    h = pthread_getspecific(curl_key);
    if (h) {
        curl_easy_reset(h);
        return h;
    }
    h = curl_easy_init();
    if (h)
        pthread_setspecific(curl_key, h);
    return h;
}

static void thread_curl_free(void)
{
    CURL *h;
    pthread_once(&curl_once, curl_init_once);
    h = pthread_getspecific(curl_key);
    if (h) {
        curl_easy_cleanup(h);
        pthread_setspecific(curl_key, NULL);
    }
}

typedef struct http_resp {
    long status;
    tbuf body;
    char location[4096];
    char content_type[256];
} http_resp;

static void header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
    size_t nlen = strlen(name), i = 0;
    if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
        return;
    line += nlen + 1;
    len -= nlen + 1;
    while (len && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
        len--;
    for (; i < len && i + 1 < size; i++)
        out[i] = line[i];
    out[i] = '\0';
}

static size_t on_resp_header(char *p, size_t size, size_t n, void *ud)
{
    http_resp *r = ud;
    header_value(p, size * n, "Location", r->location, sizeof(r->location));
    header_value(p, size * n, "Content-Type", r->content_type, sizeof(r->content_type));
    return size * n;
}

static size_t on_resp_body(char *p, size_t size, size_t n, void *ud)
{
    return tbuf_add(ud, p, size * n) < 0 ? 0 : size * n;
}

/* One request to the registry itself, with its credentials and CA. */
static int reg_http(const treg *r, const char *method, const char *url, const char *content_type,
                    const char *accept, const void *body, size_t len, http_resp *out)
{
    CURL *h = thread_curl();
    struct curl_slist *hdrs = NULL;
    char line[512];
    CURLcode rc;

    memset(out, 0, sizeof(*out));
    if (!h)
        return fail("curl_easy_init failed");
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (content_type) {
        snprintf(line, sizeof(line), "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (accept) {
        snprintf(line, sizeof(line), "Accept: %s", accept);
        hdrs = curl_slist_append(hdrs, line);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_resp_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_resp_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out->body);
    if (r->userpwd[0])
        curl_easy_setopt(h, CURLOPT_USERPWD, r->userpwd);
    if (r->ca_file[0])
        curl_easy_setopt(h, CURLOPT_CAINFO, r->ca_file);
    if (r->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (body || strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    rc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        tbuf_free(&out->body);
        return fail("%s %s: %s", method, url, curl_easy_strerror(rc));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    if (!out->body.data)
        tbuf_add(&out->body, "", 0);
    return 0;
}

/* ---- registry files: config, certificates, htpasswd, auth file ---------- */

static int write_registry_config(treg *r)
{
    char yml[8192];
    int n = snprintf(yml, sizeof(yml),
                     "version: 0.1\n"
                     "log:\n  level: error\n  accesslog:\n    disabled: true\n"
                     "storage:\n  filesystem:\n    rootdirectory: \"%s\"\n"
                     "  delete:\n    enabled: true\n"
                     "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                     "http:\n  addr: 127.0.0.1:%d\n  secret: treg-fixed-secret\n",
                     r->storage, r->port);
    if (r->opt.tls)
        n += snprintf(yml + n, sizeof(yml) - (size_t)n,
                      "  tls:\n    certificate: \"%s/tls/server.crt\"\n"
                      "    key: \"%s/tls/server.key\"\n",
                      r->workdir, r->workdir);
    if (r->opt.basic_auth)
        n += snprintf(yml + n, sizeof(yml) - (size_t)n,
                      "auth:\n  htpasswd:\n    realm: treg\n    path: \"%s/htpasswd\"\n",
                      r->workdir);
    if (n >= (int)sizeof(yml))
        return fail("registry config too long for %s", r->workdir);
    return write_file(r->config, yml, (size_t)n);
}

/* A CA (ca/ca.crt, alone in its directory so it can serve as a cert dir)
 * and a server certificate for 127.0.0.1, with the openssl command line. */
static int make_certs(treg *r)
{
    char ca_dir[PATH_MAX + 8], tls_dir[PATH_MAX + 8], cnf[PATH_MAX + 32], ext[PATH_MAX + 32];
    char ca_key[PATH_MAX + 32], csr[PATH_MAX + 32], key[PATH_MAX + 32], crt[PATH_MAX + 32];
    char log[PATH_MAX + 32];
    static const char ca_cnf[] = "[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\n"
                                 "prompt = no\n[dn]\nCN = treg test CA\n[v3_ca]\n"
                                 "basicConstraints = critical,CA:TRUE\n"
                                 "keyUsage = critical,keyCertSign,cRLSign\n"
                                 "subjectKeyIdentifier = hash\n";
    static const char srv_ext[] = "subjectAltName = IP:127.0.0.1,DNS:localhost\n"
                                  "basicConstraints = CA:FALSE\n"
                                  "keyUsage = critical,digitalSignature,keyEncipherment\n"
                                  "extendedKeyUsage = serverAuth\n";

    snprintf(ca_dir, sizeof(ca_dir), "%s/ca", r->workdir);
    snprintf(tls_dir, sizeof(tls_dir), "%s/tls", r->workdir);
    snprintf(cnf, sizeof(cnf), "%s/ca.cnf", tls_dir);
    snprintf(ext, sizeof(ext), "%s/server.ext", tls_dir);
    snprintf(ca_key, sizeof(ca_key), "%s/ca.key", tls_dir);
    snprintf(csr, sizeof(csr), "%s/server.csr", tls_dir);
    snprintf(key, sizeof(key), "%s/server.key", tls_dir);
    snprintf(crt, sizeof(crt), "%s/server.crt", tls_dir);
    snprintf(log, sizeof(log), "%s/openssl.log", r->workdir);
    snprintf(r->ca_file, sizeof(r->ca_file), "%s/ca/ca.crt", r->workdir);
    if (mkdir_p(ca_dir) < 0 || mkdir_p(tls_dir) < 0 ||
        write_file(cnf, ca_cnf, strlen(ca_cnf)) < 0 ||
        write_file(ext, srv_ext, strlen(srv_ext)) < 0)
        return -1;
    {
        char *ca[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key, "-out",
                      r->ca_file, "-days", "30", "-config", cnf, NULL};
        char *req[] = {"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr,
                       "-subj", "/CN=127.0.0.1", NULL};
        char *sign[] = {"openssl", "x509", "-req", "-in", csr, "-CA", r->ca_file, "-CAkey",
                        ca_key, "-set_serial", "2", "-days", "30", "-extfile", ext, "-out", crt,
                        NULL};
        if (run_cmd(ca, log) < 0 || run_cmd(req, log) < 0 || run_cmd(sign, log) < 0)
            return fail("cannot make certificates under %s", tls_dir);
    }
    return 0;
}

static int make_htpasswd(treg *r)
{
    char path[PATH_MAX + 16], log[PATH_MAX + 16];
    char *argv[] = {"htpasswd", "-Bbc", path, TREG_USER, TREG_PASSWORD, NULL};
    snprintf(path, sizeof(path), "%s/htpasswd", r->workdir);
    snprintf(log, sizeof(log), "%s/htpasswd.log", r->workdir);
    return run_cmd(argv, log);
}

/* docker config.json with the credentials for every host clients may use. */
static int write_auth_file(treg *r)
{
    unsigned char b64[64];
    json_t *root = json_object(), *auths = json_object();
    char *text;
    int rc;

    EVP_EncodeBlock(b64, (const unsigned char *)TREG_USERPWD, (int)strlen(TREG_USERPWD));
    json_object_set_new(root, "auths", auths);
    for (size_t i = 0; i < r->nauth_hosts; i++)
        json_object_set_new(auths, r->auth_hosts[i], json_pack("{ss}", "auth", (char *)b64));
    text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (!text)
        return fail("out of memory writing %s", r->auth_file);
    rc = write_file(r->auth_file, text, strlen(text));
    free(text);
    return rc;
}

static int add_auth_host(treg *r, const char *host)
{
    if (!r->auth_file[0])
        return 0;
    if (r->nauth_hosts == TREG_MAX_HOSTS)
        return fail("too many hosts for %s", r->auth_file);
    snprintf(r->auth_hosts[r->nauth_hosts++], sizeof(r->auth_hosts[0]), "%s", host);
    return write_auth_file(r);
}

/* ---- starting and stopping ---------------------------------------------- */

static int log_mentions(const char *log, const char *what)
{
    tbuf b = {0};
    int found = read_file(log, &b) == 0 && strstr(b.data, what) != NULL;
    tbuf_free(&b);
    return found;
}

/* Polls GET /v2/ until it answers (401 counts) or the process dies. */
static int wait_up(treg *r)
{
    char url[128];
    long deadline = now_ms() + TREG_START_DEADLINE_MS;
    snprintf(url, sizeof(url), "%s/v2/", r->reg_url);
    while (now_ms() < deadline) {
        CURL *h = thread_curl();
        long status = 0;
        if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
            live_set(0, r->pid);
            r->pid = 0;
            return fail("docker-registry exited at start, see %s", r->log);
        }
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        if (r->ca_file[0])
            curl_easy_setopt(h, CURLOPT_CAINFO, r->ca_file);
        if (curl_easy_perform(h) == CURLE_OK &&
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
            (status == 200 || status == 401))
            return 0;
        sleep_ms(20);
    }
    return fail("docker-registry at %s not up after %d ms, see %s", url, TREG_START_DEADLINE_MS,
                r->log);
}

extern char **environ;

static int launch(treg *r)
{
    char *argv[] = {"/usr/bin/docker-registry", "serve", r->config, NULL};
    const char *bin = getenv("TREG_REGISTRY_BIN");
    char gogc[] = "GOGC=400", **envp;
    size_t n = 0;

    if (bin)
        argv[0] = (char *)bin;
    if (write_registry_config(r) < 0)
        return -1;
    /* The registry spends much of its CPU collecting garbage under a push
     * storm; a lazier collector makes pushes ~40% faster. The environment is
     * built before fork: the child may only make async-signal-safe calls. */
    while (environ[n])
        n++;
    if ((envp = calloc(n + 2, sizeof(*envp))) == NULL)
        return fail("out of memory");
    memcpy(envp, environ, n * sizeof(*envp));
    if (!getenv("GOGC"))
        envp[n] = gogc;
    r->pid = spawn(argv, envp, r->log, 1);
    free(envp);
    if (r->pid < 0) {
        r->pid = 0;
        return -1;
    }
    live_set(r->pid, 0);
    snprintf(r->reg_url, sizeof(r->reg_url), "%s://127.0.0.1:%d", r->opt.tls ? "https" : "http",
             r->port);
    if (wait_up(r) < 0) {
        stop_process(r->pid);
        r->pid = 0;
        return -1;
    }
    return 0;
}

static int token_proxy_start(treg *r);

int treg_start(treg **out, const char *workdir, const treg_options *opt)
{
    treg *r = calloc(1, sizeof(*r));
    int started = -1;

    *out = NULL;
    if (!r)
        return fail("out of memory");
    pthread_mutex_init(&r->known_lock, NULL);
    pthread_cond_init(&r->known_cond, NULL);
    r->owned = 1;
    if (opt)
        r->opt = *opt;
    if (r->opt.tls && r->opt.token_auth) {
        treg_stop(r);
        return fail("tls with token_auth is not supported (the token proxy speaks http)");
    }
    if (strlen(workdir) >= sizeof(r->workdir)) {
        treg_stop(r);
        return fail("workdir path too long: %s", workdir);
    }
    snprintf(r->workdir, sizeof(r->workdir), "%s", workdir);
    snprintf(r->storage, sizeof(r->storage), "%s/storage", workdir);
    snprintf(r->config, sizeof(r->config), "%s/registry.yml", workdir);
    snprintf(r->log, sizeof(r->log), "%s/registry.log", workdir);
    if (r->opt.basic_auth)
        snprintf(r->userpwd, sizeof(r->userpwd), "%s", TREG_USERPWD);
    if (mkdir_p(r->storage) < 0 || (r->opt.tls && make_certs(r) < 0) ||
        (r->opt.basic_auth && make_htpasswd(r) < 0))
        goto error;
    /* The free port may be taken before the registry binds it: try again. */
    for (int attempt = 0; attempt < 4 && started < 0; attempt++) {
        r->port = r->opt.port ? r->opt.port : free_port();
        started = launch(r);
        if (started < 0 && (r->opt.port || !log_mentions(r->log, "address already in use")))
            break;
    }
    if (started < 0)
        goto error;
    snprintf(r->host, sizeof(r->host), "127.0.0.1:%d", r->port);
    if (r->opt.token_auth && token_proxy_start(r) < 0)
        goto error;
    if (r->opt.tls)
        snprintf(r->location, sizeof(r->location), "%s", r->host);
    else
        snprintf(r->location, sizeof(r->location), "http://%s", r->host);
    if (r->opt.basic_auth || r->opt.token_auth) {
        snprintf(r->auth_file, sizeof(r->auth_file), "%s/auth.json", workdir);
        if (add_auth_host(r, r->host) < 0)
            goto error;
    }
    *out = r;
    return 0;
error:
    treg_stop(r);
    return -1;
}

int treg_attach(treg **out, const char *url, const char *userpwd)
{
    treg *r = calloc(1, sizeof(*r));
    const char *hostpart;

    *out = NULL;
    if (!r)
        return fail("out of memory");
    pthread_mutex_init(&r->known_lock, NULL);
    pthread_cond_init(&r->known_cond, NULL);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        free(r);
        return fail("registry url '%s' does not start with http:// or https://", url);
    }
    snprintf(r->reg_url, sizeof(r->reg_url), "%s", url);
    if (r->reg_url[strlen(r->reg_url) - 1] == '/')
        r->reg_url[strlen(r->reg_url) - 1] = '\0';
    r->insecure = strncmp(url, "https://", 8) == 0;
    r->opt.tls = r->insecure;
    hostpart = strstr(r->reg_url, "://") + 3;
    snprintf(r->host, sizeof(r->host), "%s", hostpart);
    snprintf(r->location, sizeof(r->location), "%s", r->opt.tls ? r->host : r->reg_url);
    if (userpwd)
        snprintf(r->userpwd, sizeof(r->userpwd), "%s", userpwd);
    *out = r;
    return 0;
}

void treg_proxy_stop(treg_proxy *p);

void treg_stop(treg *r)
{
    if (!r)
        return;
    treg_proxy_stop(r->token_proxy);
    if (r->owned && r->pid > 0)
        stop_process(r->pid);
    thread_curl_free();
    pthread_mutex_destroy(&r->known_lock);
    pthread_cond_destroy(&r->known_cond);
    free(r->known);
    free(r);
}

int treg_pause(treg *r)
{
    if (!r->owned || r->pid <= 0)
        return fail("registry at %s is not running here", r->reg_url);
    stop_process(r->pid);
    r->pid = 0;
    thread_curl_free(); /* drop kept-alive connections to the dead process */
    return 0;
}

int treg_resume(treg *r)
{
    if (!r->owned)
        return fail("registry at %s was not started here", r->reg_url);
    if (r->pid > 0)
        return 0;
    return launch(r);
}

const char *treg_host(const treg *r)
{
    return r->host;
}

const char *treg_location(const treg *r)
{
    return r->location;
}

const char *treg_ca_file(const treg *r)
{
    return r->ca_file[0] ? r->ca_file : NULL;
}

const char *treg_auth_file(const treg *r)
{
    return r->auth_file[0] ? r->auth_file : NULL;
}

const char *treg_storage_dir(const treg *r)
{
    return r->storage[0] ? r->storage : NULL;
}

const char *treg_registry_url(const treg *r)
{
    return r->reg_url;
}

int treg_pid(const treg *r)
{
    return (int)r->pid;
}

/* ---- forwarding proxy: token front and fault proxy ---------------------- */

struct treg_proxy {
    struct MHD_Daemon *mhd;
    int port;
    char location[64];        /* http://127.0.0.1:PORT */
    char upstream[128];       /* http(s)://127.0.0.1:PORT */
    char ca_file[PATH_MAX];   /* upstream CA, "" none */
    int token_mode;           /* 1: token front, 0: fault proxy */
    char userpwd[128];        /* token mode: upstream credentials, "" none */
    char token[65];           /* token mode: the one valid token */
    char basic_expected[96];  /* token mode: "Basic base64(user:password)" */
    atomic_size_t token_requests;
    treg_fault *rules;        /* fault mode: copies, match strings owned */
    size_t nrules;
    pthread_mutex_t lock;     /* guards fired, seen */
    unsigned *fired;          /* per rule */
    char **seen;              /* "METHOD PATH" of every request handled */
    size_t nseen, capseen;
};

typedef struct proxy_req {
    char *uri;   /* raw request target, query included */
    int started; /* access handler has seen the headers */
    tbuf body;
} proxy_req;

typedef struct proxy_resp {
    long status;
    tbuf headers; /* raw header lines of the final response */
    tbuf body;
    long content_length; /* from the headers, -1 unknown (HEAD answers) */
} proxy_resp;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    proxy_req *q = calloc(1, sizeof(*q));
    (void)cls;
    (void)c;
    if (q)
        q->uri = strdup(uri);
    return q;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    proxy_req *q = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (q) {
        free(q->uri);
        tbuf_free(&q->body);
        free(q);
        *con_cls = NULL;
    }
}

typedef struct hdr_collect {
    struct curl_slist *list;
    int drop_auth;
} hdr_collect;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    static const char *const hop[] = {"Host", "Content-Length", "Connection", "Transfer-Encoding",
                                      "Expect", "Keep-Alive", NULL};
    hdr_collect *hc = cls;
    char line[8192];
    (void)kind;
    for (size_t i = 0; hop[i]; i++)
        if (strcasecmp(key, hop[i]) == 0)
            return MHD_YES;
    if (hc->drop_auth && strcasecmp(key, "Authorization") == 0)
        return MHD_YES;
    snprintf(line, sizeof(line), "%s: %s", key, value ? value : "");
    hc->list = curl_slist_append(hc->list, line);
    return MHD_YES;
}

static size_t on_fwd_header(char *p, size_t size, size_t n, void *ud)
{
    proxy_resp *pr = ud;
    size_t len = size * n;
    char cl[32] = "";
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new (final?) response */
        pr->headers.len = 0;
        pr->content_length = -1;
    }
    header_value(p, len, "Content-Length", cl, sizeof(cl));
    if (cl[0])
        pr->content_length = atol(cl);
    tbuf_add(&pr->headers, p, len);
    return len;
}

static int forward(treg_proxy *p, struct MHD_Connection *c, const char *method, proxy_req *q,
                   proxy_resp *out)
{
    CURL *h = curl_easy_init();
    hdr_collect hc = {NULL, p->token_mode};
    tbuf url = {0};
    CURLcode rc;

    memset(out, 0, sizeof(*out));
    out->content_length = -1;
    if (!h)
        return -1;
    tbuf_add(&url, p->upstream, strlen(p->upstream));
    tbuf_add(&url, q->uri, strlen(q->uri));
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &hc);
    hc.list = curl_slist_append(hc.list, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url.data);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hc.list);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_fwd_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_resp_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out->body);
    if (p->ca_file[0])
        curl_easy_setopt(h, CURLOPT_CAINFO, p->ca_file);
    if (p->userpwd[0])
        curl_easy_setopt(h, CURLOPT_USERPWD, p->userpwd);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0 || q->body.len) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body.data ? q->body.data : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body.len);
    }
    rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    else
        fprintf(stderr, "treg: proxy %s %s: %s\n", method, url.data, curl_easy_strerror(rc));
    curl_slist_free_all(hc.list);
    curl_easy_cleanup(h);
    tbuf_free(&url);
    return rc == CURLE_OK ? 0 : -1;
}

/* Copies the upstream headers MHD does not make itself. */
static void copy_headers(struct MHD_Response *resp, const tbuf *headers)
{
    static const char *const skip[] = {"Content-Length", "Transfer-Encoding", "Connection",
                                       "Keep-Alive", "Date", NULL};
    const char *line = headers->data;
    while (line && *line) {
        const char *eol = strstr(line, "\r\n"), *colon;
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        colon = memchr(line, ':', len);
        if (colon && strncmp(line, "HTTP/", 5) != 0) {
            char name[256], value[8192];
            size_t nlen = (size_t)(colon - line), vstart = nlen + 1;
            int skipped = 0;
            while (vstart < len && line[vstart] == ' ')
                vstart++;
            if (nlen < sizeof(name) && len - vstart < sizeof(value)) {
                memcpy(name, line, nlen);
                name[nlen] = '\0';
                memcpy(value, line + vstart, len - vstart);
                value[len - vstart] = '\0';
                for (size_t i = 0; skip[i]; i++)
                    skipped |= strcasecmp(name, skip[i]) == 0;
                if (!skipped)
                    MHD_add_response_header(resp, name, value);
            }
        }
        line = eol ? eol + 2 : NULL;
    }
}

/* Body source for cut-short and HEAD answers: serves body up to `limit`,
 * then fails so MHD drops the connection before the announced length. */
typedef struct cut_body {
    char *data;
    size_t limit;
} cut_body;

static ssize_t cut_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    cut_body *cb = cls;
    size_t n;
    if (pos >= cb->limit)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    n = cb->limit - (size_t)pos;
    if (n > max)
        n = max;
    memcpy(buf, cb->data + pos, n);
    return (ssize_t)n;
}

static void cut_free(void *cls)
{
    cut_body *cb = cls;
    free(cb->data);
    free(cb);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             const char *body, const char *hname, const char *hvalue)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    if (!resp)
        return MHD_NO;
    if (ctype)
        MHD_add_response_header(resp, "Content-Type", ctype);
    if (hname)
        MHD_add_response_header(resp, hname, hvalue);
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Forwards and answers; truncate: announce the whole body, send half. */
static enum MHD_Result forward_reply(treg_proxy *p, struct MHD_Connection *c, const char *method,
                                     proxy_req *q, int truncate)
{
    proxy_resp pr;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    int head = strcmp(method, "HEAD") == 0;

    if (forward(p, c, method, q, &pr) < 0) {
        tbuf_free(&pr.headers);
        tbuf_free(&pr.body);
        return reply(c, 502, "text/plain", "treg proxy: upstream failed\n", NULL, NULL);
    }
    if (head || truncate) {
        /* MHD announces the callback's total size; for HEAD it sends no body. */
        cut_body *cb = calloc(1, sizeof(*cb));
        uint64_t total = head ? (uint64_t)(pr.content_length < 0 ? 0 : pr.content_length)
                              : (uint64_t)pr.body.len;
        if (!cb) {
            tbuf_free(&pr.headers);
            tbuf_free(&pr.body);
            return MHD_NO;
        }
        cb->data = pr.body.data;
        cb->limit = head ? 0 : pr.body.len / 2;
        pr.body.data = NULL;
        resp = MHD_create_response_from_callback(total, 4096, cut_read, cb, cut_free);
    } else {
        resp = MHD_create_response_from_buffer(pr.body.len, pr.body.data ? pr.body.data : "",
                                               MHD_RESPMEM_MUST_COPY);
    }
    if (!resp) {
        tbuf_free(&pr.headers);
        tbuf_free(&pr.body);
        return MHD_NO;
    }
    copy_headers(resp, &pr.headers);
    ret = MHD_queue_response(c, (unsigned)pr.status, resp);
    MHD_destroy_response(resp);
    tbuf_free(&pr.headers);
    tbuf_free(&pr.body);
    return ret;
}

/* "repository:<repo>:pull" scope for a /v2/<repo>/... path, "" for /v2/. */
static void scope_for(const char *url, char *out, size_t size)
{
    static const char *const marks[] = {"/manifests/", "/blobs/", "/tags/", NULL};
    const char *end = NULL;
    out[0] = '\0';
    if (strncmp(url, "/v2/", 4) != 0)
        return;
    for (size_t i = 0; marks[i]; i++) {
        const char *m = strstr(url + 4, marks[i]);
        if (m && (!end || m < end))
            end = m;
    }
    if (end && end > url + 4)
        snprintf(out, size, "repository:%.*s:pull", (int)(end - (url + 4)), url + 4);
}

static enum MHD_Result token_handle(treg_proxy *p, struct MHD_Connection *c, const char *url,
                                    const char *method, proxy_req *q)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    char bearer[96], scope[512], challenge[768], body[256];

    if (strcmp(url, "/token") == 0) {
        atomic_fetch_add(&p->token_requests, 1);
        if (!auth || strcmp(auth, p->basic_expected) != 0)
            return reply(c, 401, "application/json",
                         "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"bad credentials\"}]}",
                         "WWW-Authenticate", "Basic realm=\"treg-token\"");
        snprintf(body, sizeof(body), "{\"token\":\"%s\",\"expires_in\":300}", p->token);
        return reply(c, 200, "application/json", body, NULL, NULL);
    }
    snprintf(bearer, sizeof(bearer), "Bearer %s", p->token);
    if (auth && strcmp(auth, bearer) == 0)
        return forward_reply(p, c, method, q, 0);
    scope_for(url, scope, sizeof(scope));
    if (scope[0])
        snprintf(challenge, sizeof(challenge),
                 "Bearer realm=\"%s/token\",service=\"treg\",scope=\"%s\"", p->location, scope);
    else
        snprintf(challenge, sizeof(challenge), "Bearer realm=\"%s/token\",service=\"treg\"",
                 p->location);
    return reply(c, 401, "application/json",
                 "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}",
                 "WWW-Authenticate", challenge);
}

static enum MHD_Result fault_handle(treg_proxy *p, struct MHD_Connection *c, const char *url,
                                    const char *method, proxy_req *q)
{
    char line[4096];
    const treg_fault *rule = NULL;

    snprintf(line, sizeof(line), "%s %s", method, url);
    pthread_mutex_lock(&p->lock);
    if (p->nseen == p->capseen) {
        size_t cap = p->capseen ? p->capseen * 2 : 64;
        char **s = realloc(p->seen, cap * sizeof(*s));
        if (s) {
            p->seen = s;
            p->capseen = cap;
        }
    }
    if (p->nseen < p->capseen)
        p->seen[p->nseen++] = strdup(line);
    for (size_t i = 0; i < p->nrules && !rule; i++) {
        if (strstr(line, p->rules[i].match) &&
            (p->rules[i].times == 0 || p->fired[i] < p->rules[i].times)) {
            p->fired[i]++;
            rule = &p->rules[i];
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (rule && rule->kind == TREG_FAULT_STATUS) {
        char body[160];
        snprintf(body, sizeof(body),
                 "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"treg fault %d\"}]}",
                 rule->status);
        return reply(c, (unsigned)rule->status, "application/json", body, NULL, NULL);
    }
    if (rule && rule->kind == TREG_FAULT_DELAY)
        sleep_ms(rule->delay_ms);
    return forward_reply(p, c, method, q, rule && rule->kind == TREG_FAULT_TRUNCATE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    treg_proxy *p = cls;
    proxy_req *q = *con_cls;
    (void)version;
    if (!q)
        return MHD_NO;
    if (!q->started) {
        q->started = 1;
        return MHD_YES;
    }
    if (*upload_size) {
        if (tbuf_add(&q->body, upload_data, *upload_size) < 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    return p->token_mode ? token_handle(p, c, url, method, q) : fault_handle(p, c, url, method, q);
}

static int proxy_listen(treg_proxy *p)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    const union MHD_DaemonInfo *info;

    pthread_once(&curl_once, curl_init_once);
    p->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                  MHD_USE_POLL,
                              0, NULL, NULL, on_request, p, MHD_OPTION_SOCK_ADDR, &sa,
                              MHD_OPTION_URI_LOG_CALLBACK, on_uri, p,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, p,
                              MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
    if (!p->mhd)
        return fail("cannot start proxy on 127.0.0.1 in front of %s", p->upstream);
    info = MHD_get_daemon_info(p->mhd, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || !info->port)
        return fail("cannot read the proxy port in front of %s", p->upstream);
    p->port = info->port;
    snprintf(p->location, sizeof(p->location), "http://127.0.0.1:%d", p->port);
    return 0;
}

static treg_proxy *proxy_new(const char *upstream, const char *ca_file)
{
    treg_proxy *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    snprintf(p->upstream, sizeof(p->upstream), "%s", upstream);
    snprintf(p->ca_file, sizeof(p->ca_file), "%s", ca_file ? ca_file : "");
    return p;
}

static int token_proxy_start(treg *r)
{
    treg_proxy *p = proxy_new(r->reg_url, r->ca_file);
    unsigned char raw[32], b64[64];
    char digest[72];

    if (!p)
        return fail("out of memory");
    r->token_proxy = p;
    p->token_mode = 1;
    snprintf(p->userpwd, sizeof(p->userpwd), "%s", r->userpwd);
    /* Unguessable enough for a test: a different token per instance. */
    snprintf((char *)raw, sizeof(raw), "%d-%ld-%p", (int)getpid(), now_ms(), (void *)p);
    sha256_digest(raw, strlen((char *)raw), digest);
    snprintf(p->token, sizeof(p->token), "%s", digest + 7);
    EVP_EncodeBlock(b64, (const unsigned char *)TREG_USERPWD, (int)strlen(TREG_USERPWD));
    snprintf(p->basic_expected, sizeof(p->basic_expected), "Basic %s", (char *)b64);
    if (proxy_listen(p) < 0)
        return -1;
    snprintf(r->host, sizeof(r->host), "127.0.0.1:%d", p->port);
    return 0;
}

size_t treg_token_requests(const treg *r)
{
    return r->token_proxy ? atomic_load(&r->token_proxy->token_requests) : 0;
}

int treg_proxy_start(treg_proxy **out, treg *r, const treg_fault *rules, size_t nrules)
{
    char upstream[96];
    treg_proxy *p;

    *out = NULL;
    if (r->opt.tls)
        snprintf(upstream, sizeof(upstream), "https://%s", r->host);
    else
        snprintf(upstream, sizeof(upstream), "http://%s", r->host);
    if ((p = proxy_new(upstream, r->ca_file)) == NULL)
        return fail("out of memory");
    p->rules = calloc(nrules ? nrules : 1, sizeof(*p->rules));
    p->fired = calloc(nrules ? nrules : 1, sizeof(*p->fired));
    if (!p->rules || !p->fired) {
        treg_proxy_stop(p);
        return fail("out of memory");
    }
    for (size_t i = 0; i < nrules; i++) {
        p->rules[i] = rules[i];
        p->rules[i].match = strdup(rules[i].match ? rules[i].match : "");
        p->nrules++;
    }
    if (proxy_listen(p) < 0) {
        treg_proxy_stop(p);
        return -1;
    }
    if (add_auth_host(r, p->location + 7) < 0) {
        treg_proxy_stop(p);
        return -1;
    }
    *out = p;
    return 0;
}

const char *treg_proxy_location(const treg_proxy *p)
{
    return p->location;
}

const char *treg_proxy_host(const treg_proxy *p)
{
    return p->location + 7;
}

size_t treg_proxy_count(const treg_proxy *p, const char *match)
{
    size_t n = 0;
    pthread_mutex_lock((pthread_mutex_t *)&p->lock);
    for (size_t i = 0; i < p->nseen; i++)
        if (p->seen[i] && strstr(p->seen[i], match))
            n++;
    pthread_mutex_unlock((pthread_mutex_t *)&p->lock);
    return n;
}

unsigned treg_proxy_fired(const treg_proxy *p, size_t rule)
{
    unsigned n;
    pthread_mutex_lock((pthread_mutex_t *)&p->lock);
    n = rule < p->nrules ? p->fired[rule] : 0;
    pthread_mutex_unlock((pthread_mutex_t *)&p->lock);
    return n;
}

void treg_proxy_stop(treg_proxy *p)
{
    if (!p)
        return;
    if (p->mhd)
        MHD_stop_daemon(p->mhd);
    for (size_t i = 0; i < p->nrules; i++)
        free((char *)p->rules[i].match);
    for (size_t i = 0; i < p->nseen; i++)
        free(p->seen[i]);
    free(p->seen);
    free(p->rules);
    free(p->fired);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* ---- building images ---------------------------------------------------- */

typedef struct layer {
    tbuf gz;
    char digest[72];  /* of the gzip blob */
    char diff_id[72]; /* of the uncompressed tar */
} layer;

static la_ssize_t tar_write(struct archive *a, void *ud, const void *p, size_t n)
{
    (void)a;
    return tbuf_add(ud, p, n) < 0 ? -1 : (la_ssize_t)n;
}

static int tar_entry(struct archive *a, const char *path, int dir, const char *data, size_t len)
{
    struct archive_entry *e = archive_entry_new();
    int rc;
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, dir ? 0755 : 0644);
    archive_entry_set_size(e, dir ? 0 : (la_int64_t)len);
    archive_entry_set_mtime(e, TREG_MTIME, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_uname(e, "root");
    archive_entry_set_gname(e, "root");
    rc = archive_write_header(a, e);
    if (rc == ARCHIVE_OK && !dir && len)
        rc = archive_write_data(a, data, len) == (la_ssize_t)len ? ARCHIVE_OK : ARCHIVE_FATAL;
    archive_entry_free(e);
    return rc == ARCHIVE_OK ? 0 : fail("tar entry %s: %s", path, archive_error_string(a));
}

/* Every parent directory of path not yet in dirs gets an entry first. */
static int tar_parents(struct archive *a, const char *path, tbuf *dirs)
{
    char dir[PATH_MAX + 2];
    for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
        char key[PATH_MAX + 4];
        snprintf(dir, sizeof(dir), "%.*s/", (int)(s - path), path);
        snprintf(key, sizeof(key), "\n%s\n", dir);
        if (dirs->data && strstr(dirs->data, key))
            continue;
        if (tbuf_add(dirs, key, strlen(key)) < 0)
            return fail("out of memory");
        if (tar_entry(a, dir, 1, NULL, 0) < 0)
            return -1;
    }
    return 0;
}

static int gzip_buf(const tbuf *in, tbuf *out)
{
    z_stream z;
    uLong bound;
    int rc;
    memset(&z, 0, sizeof(z));
    /* windowBits 15 + 16: a gzip wrapper whose header mtime is 0 */
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return fail("deflateInit2 failed");
    bound = deflateBound(&z, (uLong)in->len) + 32;
    if (tbuf_add(out, NULL, 0) < 0 || (out->data = realloc(out->data, bound + 1)) == NULL) {
        deflateEnd(&z);
        return fail("out of memory");
    }
    out->cap = bound + 1;
    z.next_in = (Bytef *)in->data;
    z.avail_in = (uInt)in->len;
    z.next_out = (Bytef *)out->data;
    z.avail_out = (uInt)bound;
    rc = deflate(&z, Z_FINISH);
    out->len = bound - z.avail_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : fail("deflate failed");
}

/* A gzip'd tar layer of files, each under prefix (may be ""). */
static int layer_build(layer *out, const treg_file *files, size_t n)
{
    struct archive *a = archive_write_new();
    tbuf tar = {0}, dirs = {0};
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!a)
        return fail("archive_write_new failed");
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open(a, &tar, NULL, tar_write, NULL) != ARCHIVE_OK) {
        fail("cannot write tar: %s", archive_error_string(a));
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = files[i].len ? files[i].len : strlen(files[i].data);
        if (tar_parents(a, files[i].path, &dirs) < 0 ||
            tar_entry(a, files[i].path, 0, files[i].data, len) < 0)
            goto cleanup;
    }
    if (archive_write_close(a) != ARCHIVE_OK) {
        fail("cannot close tar: %s", archive_error_string(a));
        goto cleanup;
    }
    if (gzip_buf(&tar, &out->gz) < 0)
        goto cleanup;
    sha256_digest(tar.data, tar.len, out->diff_id);
    sha256_digest(out->gz.data, out->gz.len, out->digest);
    rc = 0;
cleanup:
    archive_write_free(a);
    tbuf_free(&tar);
    tbuf_free(&dirs);
    if (rc < 0)
        tbuf_free(&out->gz);
    return rc;
}

/* Filler layer i: the same bytes in every image, so pushed once per repo. */
static int layer_filler(layer *out, size_t i)
{
    char path[64], data[128];
    treg_file f = {path, data, 0};
    snprintf(path, sizeof(path), "usr/share/treg/filler-%zu.txt", i);
    snprintf(data, sizeof(data), "filler layer %zu: unrelated to any release\n", i);
    return layer_build(out, &f, 1);
}

static int json_text(json_t *j, tbuf *out)
{
    char *text = json_dumps(j, JSON_COMPACT);
    int rc;
    json_decref(j);
    if (!text)
        return fail("out of memory building json");
    rc = tbuf_add(out, text, strlen(text));
    free(text);
    return rc;
}

static int image_config(const treg_image *img, const layer *layers, size_t n, tbuf *out)
{
    json_t *diff = json_array(), *history = json_array();
    if (!img->shared_config) {
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(diff, json_string(layers[i].diff_id));
            json_array_append_new(history, json_pack("{ssss}", "created", "2020-01-01T00:00:00Z",
                                                     "created_by", "treg layer"));
        }
    }
    return json_text(json_pack("{sssssss{}s{ssso}so}", "architecture", img->arch, "os",
                               img->os ? img->os : "linux", "created", "2020-01-01T00:00:00Z",
                               "config", "rootfs", "type", "layers", "diff_ids", diff, "history",
                               history),
                     out);
}

static json_t *descriptor(const char *mt, size_t size, const char *digest)
{
    return json_pack("{sssIss}", "mediaType", mt, "size", (json_int_t)size, "digest", digest);
}

/* ---- pushing ------------------------------------------------------------ */

static long known_find(const treg *r, const char *key)
{
    for (size_t i = 0; i < r->nknown; i++)
        if (strcmp(r->known[i].key, key) == 0)
            return (long)i;
    return -1;
}

/* 1: already stored, skip it; 0: this thread pushes it (others wait until
 * known_release); -1: no room left to remember it, push unguarded. */
static int known_claim(treg *r, const char *key)
{
    long i;
    int rc = -1;
    pthread_mutex_lock(&r->known_lock);
    while ((i = known_find(r, key)) >= 0 && !r->known[i].done)
        pthread_cond_wait(&r->known_cond, &r->known_lock);
    if (i >= 0) {
        rc = 1;
    } else {
        if (!r->known)
            r->known = calloc(TREG_KNOWN_MAX, sizeof(*r->known));
        if (r->known && r->nknown < TREG_KNOWN_MAX) {
            snprintf(r->known[r->nknown].key, sizeof(r->known[0].key), "%s", key);
            r->known[r->nknown++].done = 0;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&r->known_lock);
    return rc;
}

static void known_release(treg *r, const char *key, int stored)
{
    long i;
    pthread_mutex_lock(&r->known_lock);
    if ((i = known_find(r, key)) >= 0) {
        if (stored)
            r->known[i].done = 1;
        else
            r->known[i] = r->known[--r->nknown];
    }
    pthread_cond_broadcast(&r->known_cond);
    pthread_mutex_unlock(&r->known_lock);
}

static int upload_blob(treg *r, const char *repo, const void *data, size_t len,
                       const char *digest);

static int push_blob(treg *r, const char *repo, const void *data, size_t len, const char *digest)
{
    char key[160];
    int claim, rc;
    snprintf(key, sizeof(key), "%s@%s", repo, digest);
    if ((claim = known_claim(r, key)) == 1)
        return 0;
    rc = upload_blob(r, repo, data, len, digest);
    if (claim == 0)
        known_release(r, key, rc == 0);
    return rc;
}

/* HEAD, then POST + PUT (monolithic) when the registry lacks the blob. */
static int upload_blob(treg *r, const char *repo, const void *data, size_t len,
                       const char *digest)
{
    char url[1024];
    tbuf put = {0};
    http_resp resp;
    int rc = -1;

    snprintf(url, sizeof(url), "%s/v2/%s/blobs/%s", r->reg_url, repo, digest);
    if (reg_http(r, "HEAD", url, NULL, NULL, NULL, 0, &resp) < 0)
        return -1;
    tbuf_free(&resp.body);
    if (resp.status == 200)
        return 0;
    snprintf(url, sizeof(url), "%s/v2/%s/blobs/uploads/", r->reg_url, repo);
    if (reg_http(r, "POST", url, NULL, NULL, "", 0, &resp) < 0)
        return -1;
    if (resp.status != 202 || !resp.location[0]) {
        fail("POST %s: status %ld: %s", url, resp.status, resp.body.data);
        goto cleanup;
    }
    if (strncmp(resp.location, "http", 4) != 0)
        tbuf_add(&put, r->reg_url, strlen(r->reg_url));
    tbuf_add(&put, resp.location, strlen(resp.location));
    tbuf_add(&put, strchr(resp.location, '?') ? "&digest=" : "?digest=", 8);
    tbuf_add(&put, digest, strlen(digest));
    tbuf_free(&resp.body);
    if (reg_http(r, "PUT", put.data, "application/octet-stream", NULL, data, len, &resp) < 0)
        goto cleanup;
    if (resp.status != 201) {
        fail("PUT blob %s to %s: status %ld: %s", digest, repo, resp.status, resp.body.data);
        goto cleanup;
    }
    rc = 0;
cleanup:
    tbuf_free(&resp.body);
    tbuf_free(&put);
    return rc;
}

static int push_manifest(treg *r, const char *repo, const char *ref, const char *mt,
                         const tbuf *body, char digest[72])
{
    char url[1024], d[72];
    http_resp resp;
    int rc = 0;

    sha256_digest(body->data, body->len, d);
    snprintf(url, sizeof(url), "%s/v2/%s/manifests/%s", r->reg_url, repo, ref ? ref : d);
    if (reg_http(r, "PUT", url, mt, NULL, body->data, body->len, &resp) < 0)
        return -1;
    if (resp.status != 201)
        rc = fail("PUT manifest %s:%s: status %ld: %s", repo, ref ? ref : d, resp.status,
                  resp.body.data);
    tbuf_free(&resp.body);
    if (rc == 0 && digest)
        memcpy(digest, d, sizeof(d));
    return rc;
}

int treg_push_image(treg *r, const char *repo, const char *tag, const treg_image *img,
                    char digest[72])
{
    size_t n = img->filler_layers + 1, top = img->top_layer_first ? 0 : n - 1;
    layer *layers = calloc(n, sizeof(*layers));
    tbuf config = {0}, manifest = {0};
    char config_digest[72];
    json_t *jl;
    int rc = -1;

    if (!layers)
        return fail("out of memory");
    if (!img->arch) {
        fail("image for %s:%s has no architecture", repo, tag ? tag : "(digest)");
        goto cleanup;
    }
    for (size_t i = 0, f = 0; i < n; i++) {
        if ((i == top ? layer_build(&layers[i], img->files, img->nfiles)
                      : layer_filler(&layers[i], f++)) < 0)
            goto cleanup;
    }
    if (image_config(img, layers, n, &config) < 0)
        goto cleanup;
    sha256_digest(config.data, config.len, config_digest);
    for (size_t i = 0; i < n; i++)
        if (push_blob(r, repo, layers[i].gz.data, layers[i].gz.len, layers[i].digest) < 0)
            goto cleanup;
    if (push_blob(r, repo, config.data, config.len, config_digest) < 0)
        goto cleanup;
    jl = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(jl, descriptor(img->oci ? MT_OCI_LAYER : MT_DOCKER_LAYER,
                                             layers[i].gz.len, layers[i].digest));
    if (json_text(json_pack("{sisssoso}", "schemaVersion", 2, "mediaType",
                            img->oci ? MT_OCI_MANIFEST : MT_DOCKER_MANIFEST, "config",
                            descriptor(img->oci ? MT_OCI_CONFIG : MT_DOCKER_CONFIG, config.len,
                                       config_digest),
                            "layers", jl),
                  &manifest) < 0)
        goto cleanup;
    rc = push_manifest(r, repo, tag, img->oci ? MT_OCI_MANIFEST : MT_DOCKER_MANIFEST, &manifest,
                       digest);
cleanup:
    for (size_t i = 0; i < n; i++)
        tbuf_free(&layers[i].gz);
    free(layers);
    tbuf_free(&config);
    tbuf_free(&manifest);
    return rc;
}

char *treg_release_metadata(const char *version, const char *previous, const char *arch_meta)
{
    json_t *prev = json_array(), *meta = json_object(), *doc;
    const char *s = previous ? previous : "";
    char *text;

    while (*s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        while (len && *s == ' ') {
            s++;
            len--;
        }
        while (len && s[len - 1] == ' ')
            len--;
        if (len)
            json_array_append_new(prev, json_stringn(s, len));
        s = end ? end + 1 : s + strlen(s);
    }
    if (arch_meta)
        json_object_set_new(meta, "release.openshift.io/architecture", json_string(arch_meta));
    doc = json_pack("{sssssos[]so}", "kind", "cincinnati-metadata-v0", "version", version,
                    "previous", prev, "next", "metadata", meta);
    text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    return text;
}

int treg_push_release(treg *r, const char *repo, const char *tag, const char *arch,
                      const char *version, const char *previous, int oci, char digest[72])
{
    char *meta = treg_release_metadata(version, previous, NULL);
    treg_file f = {"release-manifests/release-metadata", meta, 0};
    treg_image img = {.arch = arch, .files = &f, .nfiles = 1, .filler_layers = 1, .oci = oci};
    int rc;
    if (!meta)
        return fail("cannot build release-metadata for %s", version);
    rc = treg_push_image(r, repo, tag, &img, digest);
    free(meta);
    return rc;
}

/* GET a manifest by digest: its media type and bytes. */
static int fetch_manifest(treg *r, const char *repo, const char *digest, http_resp *resp)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s/v2/%s/manifests/%s", r->reg_url, repo, digest);
    if (reg_http(r, "GET", url, NULL, MT_ACCEPT_ALL, NULL, 0, resp) < 0)
        return -1;
    if (resp->status != 200) {
        fail("GET %s: status %ld: %s", url, resp->status, resp->body.data);
        tbuf_free(&resp->body);
        return -1;
    }
    return 0;
}

int treg_push_index(treg *r, const char *repo, const char *tag, const char *const *digests,
                    const char *const *arches, size_t n, int oci, char digest[72])
{
    json_t *list = json_array();
    tbuf body = {0};
    int rc = -1;

    for (size_t i = 0; i < n; i++) {
        http_resp m;
        json_t *d;
        char *semi;
        if (fetch_manifest(r, repo, digests[i], &m) < 0) {
            json_decref(list);
            return -1;
        }
        if ((semi = strchr(m.content_type, ';')) != NULL)
            *semi = '\0';
        d = descriptor(m.content_type, m.body.len, digests[i]);
        json_object_set_new(d, "platform",
                            json_pack("{ssss}", "architecture", arches[i], "os", "linux"));
        json_array_append_new(list, d);
        tbuf_free(&m.body);
    }
    if (json_text(json_pack("{sisssO}", "schemaVersion", 2, "mediaType",
                            oci ? MT_OCI_INDEX : MT_DOCKER_LIST, "manifests", list),
                  &body) == 0)
        rc = push_manifest(r, repo, tag, oci ? MT_OCI_INDEX : MT_DOCKER_LIST, &body, digest);
    json_decref(list);
    tbuf_free(&body);
    return rc;
}

int treg_push_signature(treg *r, const char *repo, const char *target_digest)
{
    char payload[1024], tag[80], layer_digest[72], config_digest[72], sig_annotation[] =
        "MEUCIQDtreg0000000000000000000000000000000000000000AiBtreg000000000000000000000000000000";
    tbuf config = {0}, manifest = {0};
    json_t *l;
    int rc = -1;

    if (!valid_digest(target_digest))
        return fail("signature target '%s' is not a sha256 digest", target_digest);
    snprintf(payload, sizeof(payload),
             "{\"critical\":{\"identity\":{\"docker-reference\":\"%s/%s\"},\"image\":"
             "{\"docker-manifest-digest\":\"%s\"},\"type\":\"cosign container image "
             "signature\"},\"optional\":null}",
             r->host, repo, target_digest);
    snprintf(tag, sizeof(tag), "sha256-%s.sig", target_digest + 7);
    sha256_digest(payload, strlen(payload), layer_digest);
    if (json_text(json_pack("{sssss{}s{sss[s]}}", "architecture", "", "os", "", "config",
                            "rootfs", "type", "layers", "diff_ids", layer_digest),
                  &config) < 0)
        goto cleanup;
    sha256_digest(config.data, config.len, config_digest);
    if (push_blob(r, repo, payload, strlen(payload), layer_digest) < 0 ||
        push_blob(r, repo, config.data, config.len, config_digest) < 0)
        goto cleanup;
    l = descriptor(MT_COSIGN_LAYER, strlen(payload), layer_digest);
    json_object_set_new(l, "annotations",
                        json_pack("{ss}", "dev.cosignproject.cosign/signature", sig_annotation));
    if (json_text(json_pack("{sisssos[o]}", "schemaVersion", 2, "mediaType", MT_OCI_MANIFEST,
                            "config", descriptor(MT_OCI_CONFIG, config.len, config_digest),
                            "layers", l),
                  &manifest) < 0)
        goto cleanup;
    rc = push_manifest(r, repo, tag, MT_OCI_MANIFEST, &manifest, NULL);
cleanup:
    tbuf_free(&config);
    tbuf_free(&manifest);
    return rc;
}

typedef struct file_list {
    treg_file *files;
    char **paths, **datas; /* owned */
    size_t n, cap;
} file_list;

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files under dir/rel, sorted so the layer digest is stable. */
static int collect_files(file_list *fl, const char *dir, const char *rel)
{
    char path[PATH_MAX], **names = NULL;
    size_t nnames = 0, cap = 0;
    DIR *d;
    struct dirent *de;
    int rc = 0;

    snprintf(path, sizeof(path), "%s%s%s", dir, rel[0] ? "/" : "", rel);
    if ((d = opendir(path)) == NULL)
        return fail("cannot open directory %s: %s", path, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (nnames == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 32) * sizeof(*names));
            if (!nn) {
                rc = fail("out of memory");
                break;
            }
            names = nn;
        }
        names[nnames++] = strdup(de->d_name);
    }
    closedir(d);
    if (nnames)
        qsort(names, nnames, sizeof(*names), cmp_names);
    for (size_t i = 0; i < nnames && rc == 0; i++) {
        char sub[PATH_MAX], full[PATH_MAX + 2];
        struct stat st;
        snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
        snprintf(full, sizeof(full), "%s/%s", dir, sub);
        if (stat(full, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            rc = collect_files(fl, dir, sub);
        } else if (S_ISREG(st.st_mode)) {
            tbuf data = {0};
            char layer_path[PATH_MAX + 40];
            if (read_file(full, &data) < 0) {
                rc = -1;
                break;
            }
            if (fl->n == fl->cap) {
                size_t c = fl->cap ? fl->cap * 2 : 64;
                fl->files = realloc(fl->files, c * sizeof(*fl->files));
                fl->paths = realloc(fl->paths, c * sizeof(*fl->paths));
                fl->datas = realloc(fl->datas, c * sizeof(*fl->datas));
                fl->cap = c;
                if (!fl->files || !fl->paths || !fl->datas) {
                    tbuf_free(&data);
                    rc = fail("out of memory");
                    break;
                }
            }
            snprintf(layer_path, sizeof(layer_path), "var/lib/cincinnati-graph-data/%s", sub);
            fl->paths[fl->n] = strdup(layer_path);
            fl->datas[fl->n] = data.data;
            fl->files[fl->n] = (treg_file){fl->paths[fl->n], data.data, data.len};
            fl->n++;
        }
    }
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    return rc;
}

int treg_push_graph_data(treg *r, const char *repo, const char *tag, const char *dir,
                         char digest[72])
{
    file_list fl = {0};
    int rc = collect_files(&fl, dir, "");
    if (rc == 0 && fl.n == 0)
        rc = fail("no files under %s", dir);
    if (rc == 0) {
        treg_image img = {.arch = "amd64", .files = fl.files, .nfiles = fl.n};
        rc = treg_push_image(r, repo, tag, &img, digest);
    }
    for (size_t i = 0; i < fl.n; i++) {
        free(fl.paths[i]);
        free(fl.datas[i]);
    }
    free(fl.files);
    free(fl.paths);
    free(fl.datas);
    return rc;
}

/* ---- inspecting and damaging storage ------------------------------------ */

int treg_damage_blob(treg *r, const char *digest, int cut)
{
    char path[PATH_MAX + 128];
    struct stat st;
    int fd, rc = 0;

    if (!r->storage[0])
        return fail("registry at %s has no local storage", r->reg_url);
    if (!valid_digest(digest))
        return fail("'%s' is not a sha256 digest", digest);
    snprintf(path, sizeof(path), "%s/docker/registry/v2/blobs/sha256/%.2s/%s/data", r->storage,
             digest + 7, digest + 7);
    if (stat(path, &st) < 0)
        return fail("blob %s not stored at %s: %s", digest, path, strerror(errno));
    if (cut)
        return truncate(path, st.st_size / 2) == 0 ? 0
                                                   : fail("truncate %s: %s", path, strerror(errno));
    if ((fd = open(path, O_RDWR)) < 0)
        return fail("open %s: %s", path, strerror(errno));
    for (off_t off = st.st_size / 2; off < st.st_size && off < st.st_size / 2 + 4; off++) {
        unsigned char b;
        if (pread(fd, &b, 1, off) != 1) {
            rc = fail("read %s: %s", path, strerror(errno));
            break;
        }
        b ^= 0xff;
        if (pwrite(fd, &b, 1, off) != 1) {
            rc = fail("write %s: %s", path, strerror(errno));
            break;
        }
    }
    close(fd);
    return rc;
}

int treg_manifest_layers(treg *r, const char *repo, const char *digest, char (*layers)[72],
                         size_t max, size_t *n)
{
    http_resp m;
    json_t *doc, *list;
    json_error_t jerr;
    int rc = 0;

    *n = 0;
    if (fetch_manifest(r, repo, digest, &m) < 0)
        return -1;
    doc = json_loadb(m.body.data, m.body.len, 0, &jerr);
    list = json_object_get(doc, "layers");
    if (!json_is_array(list)) {
        rc = fail("manifest %s@%s has no layers array", repo, digest);
    } else {
        for (size_t i = 0; i < json_array_size(list) && *n < max; i++) {
            const char *d = json_string_value(json_object_get(json_array_get(list, i), "digest"));
            snprintf(layers[(*n)++], 72, "%s", d ? d : "");
        }
    }
    json_decref(doc);
    tbuf_free(&m.body);
    return rc;
}
