/* server/main.c - the cincy executable; everything lives in server_main (server/cli.c). */
#include "server/server.h"

int main(int argc, char **argv)
{
    return server_main(argc, argv);
}
