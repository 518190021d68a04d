/*
 * churn — benchmark driver: starts and destroys test-driver domains on one
 * libvirt connection as fast as libvirtd allows, keeping a window of
 * `window` live domains (so each lives long enough for a monitor to track
 * it), and prints a line every `report` cycles so the caller can sample the
 * monitor's RSS. Domains are named smtest-churn-PID-N.
 * usage: churn URI CYCLES [WINDOW] [REPORT]
 */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static virDomainPtr start_one(virConnectPtr c, long i)
{
	char xml[1024];

	snprintf(xml, sizeof(xml),
		 "<domain type='test'><name>smtest-churn-%d-%ld</name>"
		 "<uuid>c4c40000-0000-4000-8000-%012lx</uuid>"
		 "<memory unit='KiB'>131072</memory><currentMemory unit='KiB'>98304</currentMemory>"
		 "<vcpu>1</vcpu><os><type>hvm</type></os><devices>"
		 "<disk type='file' device='disk'><source file='/nonexistent/%ld'/>"
		 "<target dev='vda'/></disk>"
		 "<interface type='ethernet'><target dev='smc%06lx'/></interface>"
		 "</devices></domain>",
		 (int)getpid(), i, (unsigned long)i + ((unsigned long)getpid() << 24), i,
		 (unsigned long)i & 0xffffff);
	return virDomainCreateXML(c, xml, 0);
}

int main(int argc, char **argv)
{
	long cycles, window, report;
	virConnectPtr c;
	virDomainPtr *live;

	if (argc < 3) {
		fprintf(stderr, "usage: churn URI CYCLES [WINDOW] [REPORT]\n");
		return 2;
	}
	cycles = atol(argv[2]);
	window = argc > 3 ? atol(argv[3]) : 20;
	report = argc > 4 ? atol(argv[4]) : 1000;
	c = virConnectOpen(argv[1]);
	if (!c || window < 1)
		return 1;
	live = calloc((size_t)window, sizeof(*live));
	for (long i = 0; i < cycles + window; i++) {
		long slot = i % window;

		if (live[slot]) {
			if (virDomainDestroy(live[slot]) < 0)
				fprintf(stderr, "churn: destroy: %s\n", virGetLastErrorMessage());
			virDomainFree(live[slot]);
			live[slot] = NULL;
		}
		if (i < cycles) {
			live[slot] = start_one(c, i);
			if (!live[slot]) {
				fprintf(stderr, "churn: create: %s\n", virGetLastErrorMessage());
				return 1;
			}
			if ((i + 1) % report == 0) {
				printf("%ld\n", i + 1);
				fflush(stdout);
			}
		}
	}
	free(live);
	virConnectClose(c);
	return 0;
}
