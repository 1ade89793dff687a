/*
 * The benchmark's sandbox ("pause") process for containerd's sandbox_image: it holds the pod's
 * namespaces, exits on SIGINT/SIGTERM, and reaps orphans when it is PID 1 of a shared PID
 * namespace. Signals are blocked and taken synchronously with sigwaitinfo, so there are no
 * handlers and no races. Built by bench/pause-image.ts with gcc -static.
 */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	sigset_t set;
	siginfo_t info;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return 1;
	for (;;) {
		if (sigwaitinfo(&set, &info) < 0)
			continue;
		if (info.si_signo == SIGCHLD) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			continue;
		}
		return 0;
	}
}
