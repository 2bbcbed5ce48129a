/* server/limits.c - what libmicrohttpd does not bound on its own: the time a
 * client may take to send its request headers (slowloris), and the draining
 * of in-flight requests on shutdown.
 *
 * DESIGN. MHD 0.9.75 has one timeout per connection, reset by every byte
 * received, so a client sending one header byte per second never meets it.
 * We keep our own list of open connections (MHD_OPTION_NOTIFY_CONNECTION adds
 * and removes them) with a deadline for the current request's headers:
 * limits.request_timeout_seconds after connecting, and on a kept-alive
 * connection idle_timeout_seconds + request_timeout_seconds after the last
 * answer. The access handler clears the deadline when the headers are in;
 * MHD_OPTION_NOTIFY_COMPLETED sets the next one. A reaper thread wakes once
 * a second and shuts down (shutdown(2), never close(2): MHD still owns the
 * descriptor) the sockets past their deadline; MHD then sees end-of-file and
 * frees the connection itself.
 *
 * The descriptor stays valid while it is in the list: MHD calls the CLOSED
 * notification, which takes the list lock to unlink the entry, before it
 * closes the socket, and the reaper holds that lock while it shuts sockets.
 *
 * The same list counts the requests being answered on the graph listener,
 * which is what server_drain waits for on SIGTERM.
 */
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "server/server_internal.h"

struct server_conn {
    server_conn *prev, *next; /* in server_conns.head */
    int fd;                   /* MHD's socket; shut down, never closed, here */
    int graph;                /* on the graph listener (drained on shutdown) */
    int in_flight;            /* headers in, answer not yet sent */
    double deadline;          /* monotonic seconds for the headers; 0 while in flight */
};

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void unlink_conn(server_conns *cs, server_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->in_flight && c->graph)
        cs->graph_in_flight--;
}

void server_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode code)
{
    const server_listener *l = cls;
    server *s = l->s;
    server_conns *cs = &s->conns;
    server_conn *c = *socket_context;
    const union MHD_ConnectionInfo *fd;

    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (!c)
            return;
        pthread_mutex_lock(&cs->lock);
        unlink_conn(cs, c);
        pthread_mutex_unlock(&cs->lock);
        free(c);
        *socket_context = NULL;
        return;
    }
    fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!fd || !(c = calloc(1, sizeof(*c))))
        return; /* out of memory: this connection is only bounded by MHD's timeout */
    c->fd = fd->connect_fd;
    c->graph = l->graph;
    c->deadline = mono_now() + s->cfg.request_timeout;
    pthread_mutex_lock(&cs->lock);
    c->next = cs->head;
    if (cs->head)
        cs->head->prev = c;
    cs->head = c;
    pthread_mutex_unlock(&cs->lock);
    *socket_context = c;
}

static server_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return info ? info->socket_context : NULL;
}

void server_conn_request_begin(server *s, struct MHD_Connection *conn)
{
    server_conn *c = conn_of(conn);

    if (!c)
        return;
    pthread_mutex_lock(&s->conns.lock);
    if (!c->in_flight) {
        c->in_flight = 1;
        c->deadline = 0;
        if (c->graph)
            s->conns.graph_in_flight++;
    }
    pthread_mutex_unlock(&s->conns.lock);
}

void server_conn_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                           enum MHD_RequestTerminationCode toe)
{
    server *s = ((const server_listener *)cls)->s;
    server_conn *c = conn_of(conn);

    (void)req_cls;
    (void)toe;
    if (!c)
        return;
    pthread_mutex_lock(&s->conns.lock);
    if (c->in_flight && c->graph)
        s->conns.graph_in_flight--;
    c->in_flight = 0;
    c->deadline = mono_now() + s->cfg.idle_timeout + s->cfg.request_timeout;
    pthread_cond_broadcast(&s->conns.changed);
    pthread_mutex_unlock(&s->conns.lock);
}

/* Shuts the sockets whose headers are overdue. Called with the lock held. */
static void reap(server_conns *cs, double now)
{
    for (server_conn *c = cs->head; c; c = c->next) {
        if (c->in_flight || !c->deadline || now < c->deadline)
            continue;
        shutdown(c->fd, SHUT_RDWR);
        c->deadline = 0; /* once */
        cs->reaped++;
        cincy_log(CINCY_LOG_DEBUG, "http", "request headers too slow, connection dropped");
    }
}

static void *reaper_main(void *arg)
{
    server_conns *cs = arg;
    struct timespec until;

    pthread_mutex_lock(&cs->lock);
    while (!cs->stop) {
        reap(cs, mono_now());
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&cs->wake, &cs->lock, &until);
    }
    pthread_mutex_unlock(&cs->lock);
    return NULL;
}

int server_conns_init(server_conns *cs)
{
    pthread_condattr_t attr;

    pthread_mutex_init(&cs->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cs->wake, &attr);
    pthread_cond_init(&cs->changed, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&cs->reaper, NULL, reaper_main, cs) != 0)
        return CINCY_ERROR;
    cs->running = 1;
    return 0;
}

/* After both daemons are stopped: every connection is closed by then. */
void server_conns_destroy(server_conns *cs)
{
    if (cs->running) {
        pthread_mutex_lock(&cs->lock);
        cs->stop = 1;
        pthread_cond_signal(&cs->wake);
        pthread_mutex_unlock(&cs->lock);
        pthread_join(cs->reaper, NULL);
        cs->running = 0;
    }
    pthread_cond_destroy(&cs->wake);
    pthread_cond_destroy(&cs->changed);
    pthread_mutex_destroy(&cs->lock);
}

int server_drain(server *s, double deadline)
{
    server_conns *cs = &s->conns;
    struct timespec until;
    int left;

    pthread_mutex_lock(&cs->lock);
    while (cs->graph_in_flight && mono_now() < deadline) {
        double wait = mono_now() + 0.2 < deadline ? mono_now() + 0.2 : deadline;

        until.tv_sec = (time_t)wait;
        until.tv_nsec = (long)((wait - (double)until.tv_sec) * 1e9);
        pthread_cond_timedwait(&cs->changed, &cs->lock, &until);
    }
    left = (int)cs->graph_in_flight;
    pthread_mutex_unlock(&cs->lock);
    return left;
}

double server_monotonic_now(void)
{
    return mono_now();
}
