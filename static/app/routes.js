// The one route table.  `page` loads the module lazily, so the first load is
// the shell and the page in view only.  `public` pages need no sign-in;
// `nav` names the main navigation entry the page belongs to.
// Every page module exports `default async function page(ctx)` (see
// core/router.js).
const p = (name) => () => import('./pages/' + name + '.js');

export const routes = [
	{ path: '/signin', page: p('auth'), public: true, title: 'Sign in' },
	{ path: '/register', page: p('auth'), public: true, title: 'Create the first account' },
	{ path: '/accept-invite', page: p('auth'), public: true, title: 'Accept an invitation' },
	{ path: '/account', page: p('account'), title: 'Your account' },

	{ path: '/projects', page: p('projects'), nav: 'projects', title: 'Projects' },
	{ path: '/p/:pid', page: p('project'), nav: 'overview', title: 'Project' },
	{ path: '/p/:pid/apps', page: p('apps'), nav: 'apps', title: 'Applications' },
	{ path: '/p/:pid/apps/new', page: p('apps'), nav: 'apps', title: 'New application' },
	{ path: '/p/:pid/apps/:id', page: p('app'), nav: 'apps', title: 'Application' },
	{ path: '/p/:pid/apps/:id/:tab', page: p('app'), nav: 'apps', title: 'Application' },
	{ path: '/p/:pid/deployments/:id', page: p('deployment'), nav: 'apps', title: 'Deployment' },
	{ path: '/p/:pid/databases', page: p('databases'), nav: 'databases', title: 'Databases' },
	{ path: '/p/:pid/databases/:id', page: p('database'), nav: 'databases', title: 'Database' },
	{ path: '/p/:pid/databases/:id/:tab', page: p('database'), nav: 'databases', title: 'Database' },
	{ path: '/p/:pid/volumes', page: p('volumes'), nav: 'volumes', title: 'Volumes' },
	{ path: '/p/:pid/buckets', page: p('buckets'), nav: 'buckets', title: 'Buckets' },
	{ path: '/p/:pid/buckets/:id', page: p('buckets'), nav: 'buckets', title: 'Bucket' },
	{ path: '/p/:pid/functions', page: p('functions'), nav: 'functions', title: 'Functions' },
	{ path: '/p/:pid/functions/:id', page: p('functions'), nav: 'functions', title: 'Function' },
	{ path: '/p/:pid/functions/:id/:tab', page: p('functions'), nav: 'functions', title: 'Function' },
	{ path: '/p/:pid/issues', page: p('issues'), nav: 'issues', title: 'Issues' },
	{ path: '/p/:pid/issues/:id', page: p('issues'), nav: 'issues', title: 'Issue' },
	{ path: '/p/:pid/members', page: p('members'), nav: 'members', title: 'Members' },
	{ path: '/p/:pid/settings', page: p('project-settings'), nav: 'psettings', title: 'Project settings' },

	{ path: '/servers', page: p('servers'), nav: 'servers', title: 'Servers' },
	{ path: '/servers/new', page: p('servers'), nav: 'servers', title: 'Add a server' },
	{ path: '/servers/:id', page: p('server'), nav: 'servers', title: 'Server' },
	{ path: '/servers/:id/:tab', page: p('server'), nav: 'servers', title: 'Server' },
	{ path: '/monitoring', page: p('monitoring'), nav: 'monitoring', title: 'Monitoring' },
	{ path: '/templates', page: p('templates'), nav: 'templates', title: 'Templates' },
	{ path: '/templates/:ref', page: p('templates'), nav: 'templates', title: 'Template' },
	{ path: '/alerts', page: p('alerts'), nav: 'alerts', title: 'Alerts' },
	{ path: '/alerts/:tab', page: p('alerts'), nav: 'alerts', title: 'Alerts' },
	{ path: '/notifications', page: p('notifications'), nav: 'notifications', title: 'Notifications' },
	{ path: '/settings', page: p('settings'), nav: 'settings', title: 'Settings' },
	{ path: '/settings/:tab', page: p('settings'), nav: 'settings', title: 'Settings' },
	{ path: '/audit-log', page: p('audit'), nav: 'audit', title: 'Audit log' },
];
