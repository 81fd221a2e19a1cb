import type { Knex } from 'knex';

/**
 * Who made each membership: 'platform' (a platform admin) or 'organization' (the organization's own
 * owners or admins). An organization reaches a member outside its verified domains only when a platform
 * admin added them ("Who may administer whom"). Memberships that exist already are marked
 * 'organization', the safe choice: nobody can tell who made them, so they reach only accounts on the
 * organization's verified domains until a platform admin adds them again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.string('membership_added_by', 16); // platform | organization, set with organization_id; null without one
  });
  await knex('accounts').whereNotNull('organization_id').update({ membership_added_by: 'organization' });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('membership_added_by');
  });
}
