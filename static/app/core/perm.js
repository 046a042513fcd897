// The one permission check of the dashboard (API.md §0 Permissions).  It only
// decides which controls to show: the API enforces every rule itself, and a
// write the dashboard did not expect to fail shows the API's 403 message.
import { session } from './api.js';

const RANK = { viewer: 1, member: 2, admin: 3, owner: 4 };
const NEED = { read: 1, deploy: 2, write: 3, own: 4 };

export function tenantAdmin() {
	const r = session.user && session.user.role;
	return r === 'superadmin' || r === 'admin';
}

// can(project, 'read' | 'deploy' | 'write' | 'own' | 'tenant_admin' | 'superadmin')
export function can(project, cap) {
	const u = session.user;
	if (!u)
		return false;
	if (cap === 'superadmin')
		return u.role === 'superadmin';
	if (cap === 'tenant_admin')
		return tenantAdmin();
	if (tenantAdmin())
		return true;
	if (!project)
		return cap === 'read';
	return (RANK[project.my_role] || 0) >= (NEED[cap] || 99);
}
