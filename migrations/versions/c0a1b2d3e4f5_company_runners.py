"""companies: representatives and their history, runner OTPs and their lock; counter runner
sessions, collections and sales; payments made at a counter (cash, card terminal) name it

Revision ID: c0a1b2d3e4f5
Revises: 6a4c0d2f8e19
Create Date: 2026-12-04 21:13:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c0a1b2d3e4f5'
down_revision = '6a4c0d2f8e19'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('company_representative',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('mykad', sa.String(length=12), nullable=False),
    sa.Column('since', sa.DateTime(), nullable=False),
    sa.Column('until', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('reference', sa.String(length=60), nullable=True),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['changed_by_id'], ['user_account.id'], name=op.f('fk_company_representative_changed_by_id_user_account')),
    sa.ForeignKeyConstraint(['company_id'], ['user_account.id'], name=op.f('fk_company_representative_company_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_representative'))
    )
    with op.batch_alter_table('company_representative', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_company_representative_company_id'), ['company_id'], unique=False)
        batch_op.create_index('uq_company_representative_current', ['company_id'], unique=True, sqlite_where=sa.text('until IS NULL'), postgresql_where=sa.text('until IS NULL'))

    op.create_table('runner_otp',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=24), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('runner_name', sa.String(length=200), nullable=False),
    sa.Column('runner_id_type', sa.String(length=10), nullable=False),
    sa.Column('runner_id_no', sa.String(length=20), nullable=False),
    sa.Column('may_collect', sa.Boolean(), nullable=False),
    sa.Column('may_buy', sa.Boolean(), nullable=False),
    sa.Column('may_use_wallet', sa.Boolean(), nullable=False),
    sa.Column('cap_sen', sa.BigInteger(), nullable=False),
    sa.Column('spent_sen', sa.BigInteger(), nullable=False),
    sa.Column('counter_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.Column('used_counter_id', sa.Integer(), nullable=True),
    sa.Column('used_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("runner_id_type IN ('mykad', 'passport')", name=op.f('ck_runner_otp_runner_id_type')),
    sa.CheckConstraint("status IN ('live', 'used', 'revoked')", name=op.f('ck_runner_otp_status')),
    sa.CheckConstraint('cap_sen >= 0', name=op.f('ck_runner_otp_cap_nonnegative')),
    sa.CheckConstraint('spent_sen >= 0 AND spent_sen <= cap_sen', name=op.f('ck_runner_otp_spent_within_cap')),
    sa.ForeignKeyConstraint(['company_id'], ['user_account.id'], name=op.f('fk_runner_otp_company_id_user_account')),
    sa.ForeignKeyConstraint(['counter_id'], ['counter.id'], name=op.f('fk_runner_otp_counter_id_counter')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_runner_otp_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['used_by_id'], ['user_account.id'], name=op.f('fk_runner_otp_used_by_id_user_account')),
    sa.ForeignKeyConstraint(['used_counter_id'], ['counter.id'], name=op.f('fk_runner_otp_used_counter_id_counter')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runner_otp')),
    sa.UniqueConstraint('reference', name=op.f('uq_runner_otp_reference'))
    )
    with op.batch_alter_table('runner_otp', schema=None) as batch_op:
        batch_op.create_index('ix_runner_otp_company_status', ['company_id', 'status'], unique=False)

    op.create_table('runner_otp_lock',
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['user_account.id'], name=op.f('fk_runner_otp_lock_company_id_user_account')),
    sa.PrimaryKeyConstraint('company_id', name=op.f('pk_runner_otp_lock'))
    )
    op.create_table('runner_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=24), nullable=False),
    sa.Column('otp_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('counter_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['user_account.id'], name=op.f('fk_runner_session_company_id_user_account')),
    sa.ForeignKeyConstraint(['counter_id'], ['counter.id'], name=op.f('fk_runner_session_counter_id_counter')),
    sa.ForeignKeyConstraint(['otp_id'], ['runner_otp.id'], name=op.f('fk_runner_session_otp_id_runner_otp')),
    sa.ForeignKeyConstraint(['staff_id'], ['user_account.id'], name=op.f('fk_runner_session_staff_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runner_session')),
    sa.UniqueConstraint('otp_id', name=op.f('uq_runner_session_otp_id')),
    sa.UniqueConstraint('reference', name=op.f('uq_runner_session_reference'))
    )
    with op.batch_alter_table('runner_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runner_session_company_id'), ['company_id'], unique=False)

    op.create_table('counter_collection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_line_id', sa.Integer(), nullable=False),
    sa.Column('order_reference', sa.String(length=32), nullable=False),
    sa.Column('counter_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('collected_by', sa.String(length=15), nullable=False),
    sa.Column('collector_name', sa.String(length=200), nullable=False),
    sa.Column('collector_id_no', sa.String(length=20), nullable=False),
    sa.Column('runner_session_id', sa.Integer(), nullable=True),
    sa.Column('collected_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("(collected_by = 'runner') = (runner_session_id IS NOT NULL)", name=op.f('ck_counter_collection_runner_has_session')),
    sa.CheckConstraint("collected_by IN ('customer', 'representative', 'runner')", name=op.f('ck_counter_collection_collected_by')),
    sa.ForeignKeyConstraint(['counter_id'], ['counter.id'], name=op.f('fk_counter_collection_counter_id_counter')),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_line.id'], name=op.f('fk_counter_collection_order_line_id_order_line')),
    sa.ForeignKeyConstraint(['runner_session_id'], ['runner_session.id'], name=op.f('fk_counter_collection_runner_session_id_runner_session')),
    sa.ForeignKeyConstraint(['staff_id'], ['user_account.id'], name=op.f('fk_counter_collection_staff_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counter_collection')),
    sa.UniqueConstraint('order_line_id', name=op.f('uq_counter_collection_order_line_id'))
    )
    with op.batch_alter_table('counter_collection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_counter_collection_order_reference'), ['order_reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_counter_collection_runner_session_id'), ['runner_session_id'], unique=False)

    op.create_table('counter_sale',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sale_key', sa.String(length=64), nullable=False),
    sa.Column('counter_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('order_reference', sa.String(length=32), nullable=False),
    sa.Column('payment_ref', sa.String(length=24), nullable=False),
    sa.Column('receipt_no', sa.String(length=32), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('approval_code', sa.String(length=20), nullable=True),
    sa.Column('amount_sen', sa.BigInteger(), nullable=False),
    sa.Column('runner_session_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("method <> 'terminal' OR approval_code IS NOT NULL", name=op.f('ck_counter_sale_terminal_has_approval')),
    sa.CheckConstraint("method IN ('cash', 'terminal', 'wallet')", name=op.f('ck_counter_sale_method')),
    sa.CheckConstraint('amount_sen > 0', name=op.f('ck_counter_sale_amount_positive')),
    sa.ForeignKeyConstraint(['counter_id'], ['counter.id'], name=op.f('fk_counter_sale_counter_id_counter')),
    sa.ForeignKeyConstraint(['customer_id'], ['user_account.id'], name=op.f('fk_counter_sale_customer_id_user_account')),
    sa.ForeignKeyConstraint(['runner_session_id'], ['runner_session.id'], name=op.f('fk_counter_sale_runner_session_id_runner_session')),
    sa.ForeignKeyConstraint(['staff_id'], ['user_account.id'], name=op.f('fk_counter_sale_staff_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counter_sale')),
    sa.UniqueConstraint('order_reference', name=op.f('uq_counter_sale_order_reference')),
    sa.UniqueConstraint('payment_ref', name=op.f('uq_counter_sale_payment_ref')),
    sa.UniqueConstraint('sale_key', name=op.f('uq_counter_sale_sale_key'))
    )
    with op.batch_alter_table('counter_sale', schema=None) as batch_op:
        batch_op.create_index('ix_counter_sale_counter_created', ['counter_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_counter_sale_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_counter_sale_runner_session_id'), ['runner_session_id'], unique=False)

    with op.batch_alter_table('payment_intent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counter_code', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('counter_name', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('approval_code', sa.String(length=20), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_payment_intent_method'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_payment_intent_method'),
                                         "method IN ('fpx', 'card', 'wallet', 'cash', 'terminal')")



def downgrade():
    with op.batch_alter_table('payment_intent', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_payment_intent_method'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_payment_intent_method'), "method IN ('fpx', 'card', 'wallet')")
        batch_op.drop_column('approval_code')
        batch_op.drop_column('counter_name')
        batch_op.drop_column('counter_code')

    with op.batch_alter_table('counter_sale', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_counter_sale_runner_session_id'))
        batch_op.drop_index(batch_op.f('ix_counter_sale_customer_id'))
        batch_op.drop_index('ix_counter_sale_counter_created')

    op.drop_table('counter_sale')
    with op.batch_alter_table('counter_collection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_counter_collection_runner_session_id'))
        batch_op.drop_index(batch_op.f('ix_counter_collection_order_reference'))

    op.drop_table('counter_collection')
    with op.batch_alter_table('runner_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runner_session_company_id'))

    op.drop_table('runner_session')
    op.drop_table('runner_otp_lock')
    with op.batch_alter_table('runner_otp', schema=None) as batch_op:
        batch_op.drop_index('ix_runner_otp_company_status')

    op.drop_table('runner_otp')
    with op.batch_alter_table('company_representative', schema=None) as batch_op:
        batch_op.drop_index('uq_company_representative_current', sqlite_where=sa.text('until IS NULL'), postgresql_where=sa.text('until IS NULL'))
        batch_op.drop_index(batch_op.f('ix_company_representative_company_id'))

    op.drop_table('company_representative')
